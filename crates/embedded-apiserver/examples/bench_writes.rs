//! Benchmark of the embedded API server: small-object writes per second and
//! watch fan-out (every watcher receiving every change).
//!
//! ```sh
//! cargo run --release -p embedded-apiserver --example bench_writes -- \
//!     [--writes 20000] [--writers 16] [--watchers 32] [--events 2000] [--threads 1]
//! ```
//!
//! `--threads 1` (the default) runs the server and its clients on one core,
//! the budget the issue sets (at least 5,000 writes per second). Clients go
//! through `kube::Client` over HTTP, as the operator does, so the figures
//! include client-side cost. The fan-out phase also checks that every
//! watcher sees every change exactly once, in resourceVersion order.

use embedded_apiserver::{Config, EmbeddedApiServer};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Options {
    writes: usize,
    writers: usize,
    watchers: usize,
    events: usize,
    threads: usize,
}

impl Options {
    fn from_args() -> Result<Self, String> {
        let mut options = Options {
            writes: 20_000,
            writers: 16,
            watchers: 32,
            events: 2_000,
            threads: 1,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let value: usize = value
                .parse()
                .map_err(|_| format!("{flag}: {value:?} is not a number"))?;
            match flag.as_str() {
                "--writes" => options.writes = value,
                "--writers" => options.writers = value.max(1),
                "--watchers" => options.watchers = value,
                "--events" => options.events = value,
                "--threads" => options.threads = value.max(1),
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        Ok(options)
    }
}

fn config_map(name: String) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("key".to_owned(), "value".to_owned())])),
        ..Default::default()
    }
}

/// Creates `count` ConfigMaps from `writers` concurrent clients; returns the elapsed time.
async fn write_many(
    api: &Api<ConfigMap>,
    prefix: &str,
    count: usize,
    writers: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let per_writer = count.div_ceil(writers);
    let tasks = (0..writers).map(|writer| {
        let api = api.clone();
        let names: Vec<String> = (writer * per_writer..((writer + 1) * per_writer).min(count))
            .map(|i| format!("{prefix}-{i}"))
            .collect();
        async move {
            for name in names {
                api.create(&PostParams::default(), &config_map(name))
                    .await?;
            }
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(tasks).await?;
    Ok(started.elapsed())
}

/// Watches until `events` ADDED events arrived, checking their order.
async fn watch_until(api: Api<ConfigMap>, from: String, events: usize) -> anyhow::Result<()> {
    let params = WatchParams::default().timeout(290);
    let mut stream = api.watch(&params, &from).await?.boxed();
    let mut seen = 0;
    let mut last_rv = from.parse::<u64>()?;
    while seen < events {
        let Some(event) = stream.try_next().await? else {
            anyhow::bail!("watch ended after {seen} of {events} events");
        };
        if let WatchEvent::Added(object) = event {
            let rv: u64 = object
                .metadata
                .resource_version
                .unwrap_or_default()
                .parse()?;
            anyhow::ensure!(
                rv > last_rv,
                "resourceVersion {rv} after {last_rv}: out of order"
            );
            last_rv = rv;
            seen += 1;
        }
    }
    Ok(())
}

async fn run(options: Options) -> anyhow::Result<()> {
    let server = EmbeddedApiServer::start(Config::default()).await?;
    let client = server.client()?;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let elapsed = write_many(&api, "bench", options.writes, options.writers).await?;
    println!(
        "writes:  {} ConfigMap creates from {} writers in {:.2?}: {:.0} writes/s",
        options.writes,
        options.writers,
        elapsed,
        options.writes as f64 / elapsed.as_secs_f64()
    );

    if options.watchers > 0 && options.events > 0 {
        let from = server.resource_version().to_string();
        let watchers: Vec<_> = (0..options.watchers)
            .map(|_| tokio::spawn(watch_until(api.clone(), from.clone(), options.events)))
            .collect();
        let started = Instant::now();
        write_many(&api, "fanout", options.events, options.writers).await?;
        for watcher in watchers {
            watcher.await??;
        }
        let elapsed = started.elapsed();
        let delivered = options.watchers * options.events;
        println!(
            "fan-out: {} writes to {} watchers ({delivered} events, all in order) in {:.2?}: {:.0} events/s",
            options.events,
            options.watchers,
            elapsed,
            delivered as f64 / elapsed.as_secs_f64()
        );
    }

    let requests = server.requests();
    println!(
        "requests served: {} ({} writes)",
        requests.total(),
        requests.writes()
    );
    server.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let options = Options::from_args().map_err(anyhow::Error::msg)?;
    let runtime = if options.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(options))
}
