//! A TCP relay in front of a real node, for fault injection below the process level: it can
//! swallow what clients send (as a network that loses packets would) and cut every open
//! connection (as a reset would), while the node itself keeps running with its data.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Shared {
    target: SocketAddr,
    swallow: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
    stopped: AtomicBool,
}

/// A relay listening on loopback, forwarding to one node.
pub struct Relay {
    shared: Arc<Shared>,
    /// Where clients connect.
    pub addr: SocketAddr,
}

fn pump(mut from: TcpStream, mut to: TcpStream, swallow: Option<Arc<Shared>>) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if swallow
            .as_ref()
            .is_some_and(|s| s.swallow.load(Ordering::Acquire))
        {
            continue;
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Relay {
    /// Starts a relay to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a relay");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            target,
            swallow: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::Acquire) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(node) =
                    TcpStream::connect_timeout(&accepting.target, Duration::from_secs(2))
                else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = node.set_nodelay(true);
                {
                    let mut open = accepting.open.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(node.try_clone().unwrap());
                }
                let (c2, n2) = (client.try_clone().unwrap(), node.try_clone().unwrap());
                let swallow = Some(Arc::clone(&accepting));
                std::thread::spawn(move || pump(client, node, swallow));
                std::thread::spawn(move || pump(n2, c2, None));
            }
        });
        Self { shared, addr }
    }

    /// While on, what clients send is read and dropped before it reaches the node.
    pub fn swallow(&self, on: bool) {
        self.shared.swallow.store(on, Ordering::Release);
    }

    /// Closes every connection open now, on both sides; new ones are accepted as before.
    pub fn cut(&self) {
        for stream in self.shared.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.cut();
        // Wake the accept loop so it sees the stop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(100));
    }
}
