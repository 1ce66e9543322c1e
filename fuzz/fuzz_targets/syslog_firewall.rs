#![no_main]
use libfuzzer_sys::fuzz_target;

// A header in front of the input, so that every input reaches the firewall
// readers (netfilter/UFW after `kernel:`, Huawei/H3C after `%%`, Sangfor
// after `fwlog:`) instead of being rejected as a malformed header first.
const HEADS: [&[u8]; 3] = [
    b"<4>Mar  1 10:00:00 h kernel: ",
    b"<190>Mar  1 10:00:00 2025 h %%10FILTER/6/X: ",
    b"<134>Mar  1 10:00:00 h fwlog: ",
];

fuzz_target!(|data: &[u8]| {
    for head in HEADS {
        let mut line = head.to_vec();
        line.extend_from_slice(data);
        taishi_fuzz::run(taishi_event::Format::Syslog, &line);
    }
});
