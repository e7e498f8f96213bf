//! `cachering ping`: a liveness check for container health checks (images carry no shell or
//! redis-cli). Exits 0 when the server answers PING (or asks for a password, which also proves
//! it is serving), 1 otherwise.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// `cachering ping` flags.
#[derive(Debug, clap::Args)]
pub struct PingArgs {
    /// The node or proxy to ask
    #[arg(long, default_value = "127.0.0.1:6379")]
    addr: String,
    /// Milliseconds to wait
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

pub fn run(args: PingArgs) -> Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let addr = args
        .addr
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", args.addr))?
        .next()
        .context("no address")?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply)?;
    let reply = String::from_utf8_lossy(&reply[..n]);
    if reply.starts_with("+PONG") || reply.starts_with("-NOAUTH") {
        println!("{}", reply.trim_end());
        Ok(())
    } else {
        bail!("unexpected reply from {addr}: {}", reply.trim_end())
    }
}
