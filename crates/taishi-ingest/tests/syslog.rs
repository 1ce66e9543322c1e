//! Syslog over UDP, TCP (both framings) and TLS, against real sockets.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{wait_for, TestSink};
use taishi_event::Format;
use taishi_ingest::{syslog, CancellationToken, ListenOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn opts(name: &str) -> ListenOptions {
    let mut o = ListenOptions::new(name);
    o.linger = Duration::from_millis(20);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_messages_reach_the_sink_with_their_fields() {
    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let l = syslog::udp(
        any_port(),
        Format::Syslog,
        opts("syslog-udp"),
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let client = UdpSocket::bind(any_port()).await.unwrap();
    let to = l.local_addr.unwrap();
    let msgs: [&[u8]; 4] = [
        b"<34>1 2025-03-01T10:00:00.000+08:00 web01 sshd 4242 ID47 - Failed password for root from 10.0.0.5 port 2222 ssh2\n",
        b"<13>Mar  1 10:00:01 fw01 kernel: dropped packet",
        b"<134>Mar  1 10:00:02 fw02 CEF:0|Acme|Firewall|1.0|100|Blocked|5|src=10.1.1.1 dst=10.2.2.2",
        b"\n\n",
    ];
    for m in msgs {
        client.send_to(m, to).await.unwrap();
    }
    assert!(wait_for(5, || sink.event_count() == 3 && sink.rejects().len() == 1).await);
    let evs = sink.events();
    let by_host = |h: &str| {
        evs.iter()
            .find(|e| e.get_str("host.name") == Some(h))
            .unwrap()
    };
    let ssh = by_host("web01");
    assert_eq!(ssh.get_str("log.syslog.appname"), Some("sshd"));
    assert_eq!(
        ssh.timestamp.unwrap().to_rfc3339(),
        "2025-03-01T10:00:00+08:00"
    );
    let me = client.local_addr().unwrap().to_string();
    assert_eq!(ssh.get_str("log.source.address"), Some(me.as_str()));
    assert_eq!(by_host("fw01").get_str("message"), Some("dropped packet"));
    let cef = evs
        .iter()
        .find(|e| e.contains("cef.device.vendor"))
        .unwrap();
    assert_eq!(cef.get_str("cef.device.vendor"), Some("Acme"));
    let rejects = sink.rejects();
    assert_eq!(&*rejects[0].source, me.as_str(), "rejects name the peer");
    let m = l.metrics.snapshot();
    assert_eq!(
        (
            m.messages_received,
            m.events_acked,
            m.rejects_acked,
            m.udp_dropped
        ),
        (4, 3, 1, 0)
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_newline_framing_in_odd_pieces() {
    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let l = syslog::tcp(
        any_port(),
        Format::Syslog,
        opts("syslog-tcp"),
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let mut c = TcpStream::connect(l.local_addr.unwrap()).await.unwrap();
    let mut data = Vec::new();
    for i in 0..200 {
        data.extend_from_slice(
            format!(
                "<14>Mar  1 10:00:00 host{} app[{i}]: message {i}\r\n",
                i % 3
            )
            .as_bytes(),
        );
    }
    // The last line has no newline: it ends with the connection.
    data.extend_from_slice(b"<14>Mar  1 10:00:00 host9 app: last");
    for piece in data.chunks(37) {
        c.write_all(piece).await.unwrap();
    }
    c.shutdown().await.unwrap();
    drop(c);
    assert!(
        wait_for(5, || sink.event_count() == 201).await,
        "{}",
        sink.event_count()
    );
    let evs = sink.events();
    for (i, ev) in evs.iter().take(200).enumerate() {
        assert_eq!(ev.get_str("message"), Some(format!("message {i}").as_str()));
        assert_eq!(ev.get_str("process.name"), Some("app"));
    }
    assert_eq!(evs[200].get_str("message"), Some("last"));
    assert!(sink.rejects().is_empty());
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}

fn octet(msg: &str) -> Vec<u8> {
    format!("{} {msg}", msg.len()).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_octet_counting_detected_per_connection() {
    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let l = syslog::tcp(
        any_port(),
        Format::Syslog,
        opts("syslog-tcp"),
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let mut c = TcpStream::connect(l.local_addr.unwrap()).await.unwrap();
    let mut data = Vec::new();
    data.extend(octet("<165>1 2025-03-01T10:00:00Z h1 app - - - first"));
    // A frame holding a newline stays one message.
    data.extend(octet("<165>1 2025-03-01T10:00:01Z h1 app - - - two\nlines"));
    data.push(b'\n');
    data.extend(octet(
        "<165>1 2025-03-01T10:00:02Z h1 app - - [ex@32473 k=\"v\"] third",
    ));
    // One byte at a time: frames are cut only when complete.
    for b in &data {
        c.write_all(std::slice::from_ref(b)).await.unwrap();
    }
    // A newline-framed connection at the same time.
    let mut c2 = TcpStream::connect(l.local_addr.unwrap()).await.unwrap();
    c2.write_all(b"<13>Mar  1 10:00:00 h2 other: plain line\n")
        .await
        .unwrap();
    assert!(
        wait_for(5, || sink.event_count() == 4).await,
        "{}",
        sink.event_count()
    );
    let evs = sink.events();
    let msgs: Vec<_> = evs.iter().filter_map(|e| e.get_str("message")).collect();
    assert!(msgs.contains(&"first"));
    assert!(msgs.contains(&"two\nlines"));
    assert!(msgs.contains(&"third"));
    assert!(msgs.contains(&"plain line"));
    let third = evs
        .iter()
        .find(|e| e.get_str("message") == Some("third"))
        .unwrap();
    assert_eq!(
        third.get_str("log.syslog.structured_data.ex@32473.k"),
        Some("v")
    );

    // A broken length prefix: rejected with its offset, the connection ends.
    c.write_all(b"12x <13>oops").await.unwrap();
    assert!(wait_for(5, || sink.rejects().len() == 1).await);
    let r = &sink.rejects()[0];
    assert_eq!(r.location.offset, Some(data.len() as u64));
    assert!(r.reason.contains("length"), "{}", r.reason);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_octet_counted_syslog() {
    use tokio_rustls::rustls;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    let key_pem = cert.key_pair.serialize_pem();
    let server = syslog::tls_server_config(cert_pem.as_bytes(), key_pem.as_bytes(), None).unwrap();

    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let l = syslog::tls(
        any_port(),
        Format::Syslog,
        server,
        opts("syslog-tls"),
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(l.local_addr.unwrap()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    for i in 0..50 {
        tls.write_all(&octet(&format!("<86>1 2025-03-01T10:00:00Z vpn01 sshd - - - Accepted publickey for admin{i} from 192.0.2.7 port 50000 ssh2"))).await.unwrap();
    }
    tls.flush().await.unwrap();
    assert!(
        wait_for(5, || sink.event_count() == 50).await,
        "{}",
        sink.event_count()
    );
    let ev = &sink.events()[7];
    assert_eq!(ev.get_str("host.name"), Some("vpn01"));
    assert_eq!(ev.get_str("user.name"), Some("admin7"));
    assert!(ev.get("source.ip").is_some());

    // A plaintext client fails the handshake and is counted.
    let mut plain = TcpStream::connect(l.local_addr.unwrap()).await.unwrap();
    plain
        .write_all(b"<13>Mar  1 10:00:00 h app: not tls\n")
        .await
        .unwrap();
    assert!(wait_for(5, || l.metrics.snapshot().tls_handshake_failures == 1).await);
    assert_eq!(sink.event_count(), 50);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_sender_is_flushed_after_linger() {
    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let mut o = opts("syslog-tcp");
    o.linger = Duration::from_millis(50);
    let l = syslog::tcp(any_port(), Format::Syslog, o, sink.clone(), stop.clone())
        .await
        .unwrap();
    let mut c = TcpStream::connect(l.local_addr.unwrap()).await.unwrap();
    // One message every 10 ms: never a pause as long as the linger, yet
    // events must not wait for a full batch.
    let started = tokio::time::Instant::now();
    let mut first_seen = None;
    for i in 0..40 {
        c.write_all(format!("<13>Mar  1 10:00:00 h app: tick {i}\n").as_bytes())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        if first_seen.is_none() && sink.event_count() > 0 {
            first_seen = Some(started.elapsed());
        }
    }
    let first = first_seen.expect("nothing stored while the sender kept sending");
    assert!(first < Duration::from_millis(300), "{first:?}");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sink.event_count(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["sender.example".into()])
        .unwrap()
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();

    let server = syslog::tls_server_config(
        server_cert.pem().as_bytes(),
        server_key.serialize_pem().as_bytes(),
        Some(ca.pem().as_bytes()),
    )
    .unwrap();
    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let l = syslog::tls(
        any_port(),
        Format::Syslog,
        server,
        opts("syslog-tls"),
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let addr = l.local_addr.unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let builder = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
    };
    let with_cert = builder()
        .with_client_auth_cert(
            vec![client_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client_key.serialize_der())),
        )
        .unwrap();
    let without = builder().with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();

    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(with_cert))
        .connect(name.clone(), tcp)
        .await
        .unwrap();
    tls.write_all(&octet("<13>1 2025-03-01T10:00:00Z h app - - - trusted"))
        .await
        .unwrap();
    tls.flush().await.unwrap();
    assert!(wait_for(5, || sink.event_count() == 1).await);

    // Without a certificate the server refuses the handshake; nothing from
    // that sender is stored.
    let tcp = TcpStream::connect(addr).await.unwrap();
    if let Ok(mut tls) = tokio_rustls::TlsConnector::from(Arc::new(without))
        .connect(name, tcp)
        .await
    {
        let _ = tls
            .write_all(&octet("<13>1 2025-03-01T10:00:00Z h app - - - anonymous"))
            .await;
        let _ = tls.flush().await;
    }
    assert!(wait_for(5, || l.metrics.snapshot().tls_handshake_failures == 1).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.event_count(), 1);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}
