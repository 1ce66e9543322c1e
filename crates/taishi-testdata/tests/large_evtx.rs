#[test]
fn builds_a_large_evtx_from_intact_chunks() {
    let Some(p) = taishi_testdata::large_evtx(8 << 20) else {
        eprintln!("SKIP: no samples");
        return;
    };
    let data = std::fs::read(p).unwrap();
    assert!(data.len() >= 8 << 20);
    assert!(data.starts_with(b"ElfFile\0"));
    assert_eq!((data.len() - 4096) % 65536, 0);
}
