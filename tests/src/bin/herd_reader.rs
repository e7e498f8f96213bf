//! One reader process for the herd tests: at a given instant, `readers` tasks ask for one key
//! with `get_or_load` (or, with `--naive`, read it and load it on a miss themselves), through
//! a client over the given nodes. Prints how many times the loader ran, and how many readers
//! got the loaded value.
//!
//! herd_reader <nodes,comma,separated> <key> <readers> <start-unix-ms> <ttl-ms> <loader-ms>
//!             [--lease <ms>] [--naive]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cachering_client::{ClientBuilder, LoadOptions, SetOptions};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nodes: Vec<String> = args[1].split(',').map(String::from).collect();
    let key = args[2].clone();
    let readers: usize = args[3].parse().expect("readers");
    let start_ms: u64 = args[4].parse().expect("start");
    let ttl = Duration::from_millis(args[5].parse().expect("ttl"));
    let loader_time = Duration::from_millis(args[6].parse().expect("loader time"));
    let lease = args
        .iter()
        .position(|a| a == "--lease")
        .map(|at| Duration::from_millis(args[at + 1].parse().expect("lease")));
    let naive = args.iter().any(|a| a == "--naive");
    let client = ClientBuilder::new()
        .nodes(nodes)
        .with_replicas(2)
        .build()
        .expect("client");
    // Connections up before the start, so the readers race only each other.
    let _ = client.get("warm-up").await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(start_ms.saturating_sub(now))).await;
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks = (0..readers).map(|_| {
        let (client, key, loads) = (client.clone(), key.clone(), Arc::clone(&loads));
        tokio::spawn(async move {
            let loader = move || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(loader_time).await;
                Ok::<_, String>(Bytes::from("loaded"))
            };
            if naive {
                if let Some(value) = client.get(&key).await.expect("get") {
                    return value;
                }
                let value = loader().await.expect("load");
                client
                    .set_with(&key, &value, SetOptions::new().ttl(ttl))
                    .await
                    .expect("set");
                return value;
            }
            let mut options = LoadOptions::new(ttl);
            if let Some(lease) = lease {
                options = options.lease(lease);
            }
            client
                .get_or_load_with(&key, options, loader)
                .await
                .expect("get_or_load")
        })
    });
    let mut served = 0;
    for task in futures::future::join_all(tasks).await {
        if &task.expect("reader")[..] == b"loaded" {
            served += 1;
        }
    }
    println!("loads={} served={served}", loads.load(Ordering::SeqCst));
}
