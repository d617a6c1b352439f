#![no_main]
use libfuzzer_sys::fuzz_target;

// A datagram a watched process sent to port 53 (the sensor hands its first 320 bytes over): the question read from
// it, never a panic; a name within what 255 bytes of labels can spell escaped (4 characters a byte at most), and
// its zone and shape read.
fuzz_target!(|data: &[u8]| {
    if let Some(q) = kestrel_core::dns_question(data) {
        assert!(q.name.len() <= 4 * 255, "{}", q.name.len());
        assert!(!q.name.is_empty() && !q.qtype.is_empty());
        let zone = kestrel_core::dns_zone(&q.name);
        assert!(q.name.ends_with(zone) || zone.is_empty());
        let _ = kestrel_core::encoded_label(&q.name);
    }
    // Any text (a line of a name list for `kestrel eval dns`, a rule's field): the zone a suffix, never a panic.
    if let Ok(text) = std::str::from_utf8(data) {
        let zone = kestrel_core::dns_zone(text);
        assert!(text.ends_with(zone) || text.strip_suffix('.').is_some_and(|t| t.ends_with(zone)));
        let _ = kestrel_core::encoded_label(text);
    }
});
