//! NetFlow over UDP: templates and data from one exporter.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{wait_for, TestSink};
use taishi_ingest::{netflow, CancellationToken, ListenOptions};
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v9_datagram_gives_eight_flows() {
    let Some(payload) =
        taishi_testdata::read("network/pcap/netflow/bitkeks_netflow_v9_2templates_8flows.bin")
    else {
        return;
    };
    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let mut opts = ListenOptions::new("netflow");
    opts.linger = Duration::from_millis(20);
    let l = netflow::udp(
        "127.0.0.1:0".parse().unwrap(),
        opts,
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let exporter = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    exporter
        .send_to(&payload, l.local_addr.unwrap())
        .await
        .unwrap();
    assert!(
        wait_for(5, || sink.event_count() == 8).await,
        "{}",
        sink.event_count()
    );
    let evs = sink.events();
    assert!(evs
        .iter()
        .all(|e| e.get("source.ip").is_some() && e.get("destination.ip").is_some()));
    assert!(sink.rejects().is_empty(), "{:?}", sink.rejects());

    // A datagram that is not NetFlow is rejected naming the exporter.
    exporter
        .send_to(b"hello", l.local_addr.unwrap())
        .await
        .unwrap();
    assert!(wait_for(5, || sink.rejects().len() == 1).await);
    let me = exporter.local_addr().unwrap().to_string();
    assert_eq!(&*sink.rejects()[0].source, me.as_str());
    let m = l.metrics.snapshot();
    assert_eq!(m.messages_received, 2);
    assert_eq!(m.bytes_received, payload.len() as u64 + 5);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}
