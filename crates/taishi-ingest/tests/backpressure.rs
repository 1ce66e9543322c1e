//! A slow store slows TCP senders (the listener stops reading) and makes
//! UDP drop, counted, past its queue; nothing is lost on TCP.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_for, TestSink};
use taishi_event::Format;
use taishi_ingest::{syslog, CancellationToken, ListenOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, UdpSocket};

const MESSAGES: usize = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_sender_is_slowed_not_dropped() {
    let sink = Arc::new(TestSink::blocked());
    let stop = CancellationToken::new();
    let mut opts = ListenOptions::new("syslog-tcp");
    opts.max_batch = 10;
    opts.linger = Duration::from_millis(20);
    opts.recv_buffer = Some(4096);
    let l = syslog::tcp(
        "127.0.0.1:0".parse().unwrap(),
        Format::Syslog,
        opts,
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();

    let sock = TcpSocket::new_v4().unwrap();
    sock.set_send_buffer_size(4096).unwrap();
    let mut conn = sock.connect(l.local_addr.unwrap()).await.unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let writer = tokio::spawn(async move {
        for i in 0..MESSAGES {
            let line = format!(
                "<14>Mar  1 10:00:00 host app[{i}]: message {i} {}\n",
                "p".repeat(150)
            );
            conn.write_all(line.as_bytes()).await.unwrap();
            w.store(i + 1, Ordering::SeqCst);
        }
        conn.shutdown().await.unwrap();
    });

    // The first batch waits on the store; the sender stalls part-way.
    assert!(wait_for(5, || sink.waiting.load(Ordering::SeqCst) == 1).await);
    let mut last = written.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = written.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    assert!(last < MESSAGES, "the sender was never slowed");
    let read_before = l.metrics.snapshot().bytes_received;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        l.metrics.snapshot().bytes_received,
        read_before,
        "the listener kept reading"
    );
    assert_eq!(written.load(Ordering::SeqCst), last);
    assert_eq!(sink.event_count(), 0);

    // The store catches up: everything arrives, in order.
    sink.release();
    tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .unwrap()
        .unwrap();
    assert!(
        wait_for(10, || sink.event_count() == MESSAGES).await,
        "{}",
        sink.event_count()
    );
    for (i, ev) in sink.events().iter().enumerate() {
        let msg = ev.get_str("message").unwrap();
        assert!(msg.starts_with(&format!("message {i} ")), "{i}: {msg}");
    }
    assert_eq!(l.metrics.snapshot().udp_dropped, 0);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_flood_past_the_queue_counts_drops() {
    let sink = Arc::new(TestSink::blocked());
    let stop = CancellationToken::new();
    let mut opts = ListenOptions::new("syslog-udp");
    opts.max_batch = 16;
    opts.udp_queue = 64;
    opts.linger = Duration::from_millis(10);
    let l = syslog::udp(
        "127.0.0.1:0".parse().unwrap(),
        Format::Syslog,
        opts,
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let to = l.local_addr.unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..MESSAGES {
        let msg = format!("<14>Mar  1 10:00:00 host app: datagram {i}");
        client.send_to(msg.as_bytes(), to).await.unwrap();
        if i % 50 == 49 {
            // Let the receiver keep up with the kernel buffer, so that
            // drops happen in our queue, where they are counted.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let m = l.metrics.clone();
    assert!(wait_for(5, || m.snapshot().udp_dropped > 0).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = m.snapshot();
    assert!(s.messages_received <= MESSAGES as u64);
    assert!(s.udp_dropped > 0, "{s:?}");
    assert_eq!((s.queue_depth, s.queue_capacity), (64, 64));
    assert_eq!(s.events_acked, 0);
    // Prometheus exposition carries the drops.
    let reg = taishi_ingest::Registry::new();
    reg.register(m.clone());
    let text = reg.render_prometheus();
    assert!(
        text.contains(&format!(
            "taishi_ingest_udp_dropped_total{{listener=\"syslog-udp\",kind=\"syslog-udp\"}} {}",
            s.udp_dropped
        )),
        "{text}"
    );

    // Once the store resumes, everything queued is delivered.
    sink.release();
    let kept = s.messages_received - s.udp_dropped;
    assert!(kept <= 64 + 16, "{s:?}");
    assert!(
        wait_for(5, || m.snapshot().events_acked == kept).await,
        "{:?}",
        m.snapshot()
    );
    assert_eq!(m.snapshot().queue_depth, 0);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}
