//! The question of a DNS query, read from the datagram a process sent (RFC 1035, section 4.1), and the two
//! readings of its name that detection asks for: the zone it lies in, and whether a label carries encoded data.

/// The first question of a DNS query: the name asked about and the record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuestion {
    /// The name, as sent: letters keep their case; a byte other than a letter, digit, `-` or `_` is written
    /// `\DDD` (decimal), a dot inside a label `\.`; the root is `.`.
    pub name: String,
    /// `A`, `AAAA`, `TXT`… or the type's number.
    pub qtype: String,
}

/// The longest name on the wire (RFC 1035, 2.3.4), length octets included.
const MAX_NAME: usize = 255;

/// The question a DNS query datagram asks (its first one); `None` when the datagram is no query with a
/// well-formed question: too short, a response, no question, a label longer than 63 bytes, a compression
/// pointer, a name longer than 255 bytes, or cut before its type and class. Reads at most the first 271 bytes.
pub fn dns_question(datagram: &[u8]) -> Option<DnsQuestion> {
    let header = datagram.get(..12)?;
    let (response, questions) = (header[2] & 0x80 != 0, u16::from_be_bytes([header[4], header[5]]));
    if response || questions == 0 {
        return None;
    }
    let mut name = String::new();
    let mut at = 12;
    loop {
        let len = usize::from(*datagram.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        // 0xC0: a pointer into the message, which nothing before the first question can be; 0x40, 0x80:
        // extended label types, obsolete.
        if len > 63 || at + 1 + len - 12 > MAX_NAME {
            return None;
        }
        let label = datagram.get(at + 1..at + 1 + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        for &b in label {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => name.push(char::from(b)),
                b'.' => name.push_str("\\."),
                _ => {
                    use std::fmt::Write as _;
                    let _ = write!(name, "\\{b:03}");
                }
            }
        }
        at += 1 + len;
    }
    if name.is_empty() {
        name.push('.');
    }
    // The type, then the class.
    let fixed = datagram.get(at..at + 4)?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    Some(DnsQuestion { name, qtype: qtype_name(qtype) })
}

/// A record type's mnemonic (the common ones), or its number.
fn qtype_name(t: u16) -> String {
    let known = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        43 => "DS",
        46 => "RRSIG",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return t.to_string(),
    };
    known.into()
}

/// The zone a name lies in: its registrable domain — the public suffix under which names are registered, by the
/// ICANN section of the public-suffix list (compiled in: the `psl` crate), and the one label before it
/// (`x.example.net` → `example.net`, `a.b.example.co.uk` → `example.co.uk`, `api.x.ai` → `x.ai`). Suffixes of the
/// list's private section (`s3.amazonaws.com`, `github.io`) are not zones of their own here: a tunnel needs the name
/// server of its zone, and those are their companies' (`b.s3.amazonaws.com` → `amazonaws.com`). A suffix the list
/// does not know is its last label (`svc.cluster.local` → `cluster.local`); reverse look-ups lie in `in-addr.arpa`
/// and `ip6.arpa`; a name that is a public suffix is its own zone. A name with escaped bytes is no host name: its
/// last two labels, three below a country's short second level. A DNS tunnel's names all lie in the one zone whose
/// server its operator runs.
pub fn dns_zone(name: &str) -> &str {
    // The root's dot (`example.com.`), not a dot inside the last label (`c\.`).
    let name = match name.strip_suffix('.') {
        Some(trimmed) if !escaped(name, trimmed.len()) => trimmed,
        _ => name,
    };
    if name.contains('\\') || name.is_empty() {
        return zone_without_the_list(name);
    }
    let lower = name.to_ascii_lowercase();
    let suffix = icann_suffix_len(&lower);
    if matches!(&lower[lower.len() - suffix..], "in-addr.arpa" | "ip6.arpa") {
        return &name[name.len() - suffix..];
    }
    if suffix >= name.len() {
        return name;
    }
    // The suffix and the label before it.
    let dot = name.len() - suffix - 1;
    &name[name[..dot].rfind('.').map_or(0, |d| d + 1)..]
}

/// The length of a lower-case name's public suffix by the list's ICANN rules: a private suffix is left for the
/// suffix of the name it is registered under (`s3.amazonaws.com` → `amazonaws.com` → `com`).
fn icann_suffix_len(lower: &str) -> usize {
    use psl::Psl as _;
    let mut tail = lower;
    loop {
        let info = psl::List.find(tail.rsplit('.').map(str::as_bytes));
        let len = info.len.min(tail.len());
        if info.typ != Some(psl::Type::Private) {
            return len;
        }
        match tail[tail.len() - len..].split_once('.') {
            Some((_, under)) => tail = under,
            None => return len,
        }
    }
}

/// The zone of a name that is no host name, without the list: its last two labels, three below a country's short
/// second level (`a.b.example.co.uk` → `example.co.uk`). A name of fewer labels is its own zone.
fn zone_without_the_list(name: &str) -> &str {
    // Label starts from the right (escaped dots `\.` are inside labels).
    let dots: Vec<usize> = name.match_indices('.').map(|(i, _)| i).filter(|&i| !escaped(name, i)).collect();
    let labels = dots.len() + 1;
    let last = |k: usize| -> &str {
        // The last k labels.
        if k >= labels {
            name
        } else {
            &name[dots[dots.len() - k] + 1..]
        }
    };
    let (top, two) = (last(1), last(2));
    // The label before the top one, found by the same unescaped dots.
    let second = two.strip_suffix(top).and_then(|r| r.strip_suffix('.')).unwrap_or("");
    let country_second_level = top.len() == 2
        && (second.len() <= 2 || matches!(second, "com" | "net" | "org" | "gov" | "edu" | "ltd" | "plc" | "nic"));
    if country_second_level {
        last(3)
    } else {
        two
    }
}

/// Whether the dot at byte `i` of `name` is escaped (an odd number of backslashes before it).
fn escaped(name: &str, i: usize) -> bool {
    name.as_bytes()[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// The shortest run of letters and digits in one label that [`encoded_label`] looks at: 16 bytes in hex, 20 in
/// base32, 24 in base64.
pub const ENCODED_RUN: usize = 32;

/// Whether a label of `name` holds data in an encoding — hex, base32, base64, or raw bytes — rather than words
/// or numbers: a run of at least [`ENCODED_RUN`] letters and digits that is hex (any data hex-encoded, however
/// repetitive: a file's zero padding is 60 zeros), or holds both letters and digits spread over many symbols
/// (base32, base64: at least 3.2 bits of entropy per character; English words in a row are under 3.0 mostly); or
/// a label with at least [`BINARY_BYTES`] bytes outside printable ASCII that are no UTF-8 text (iodine's base128
/// and raw codecs put bytes 0x80–0xFF in names; a name someone wrote in their own script is UTF-8, and on the
/// wire it is punycode anyway). What a DNS tunnel's names look like (`4b6f6e…2e.17.x.example.net`), and what
/// names people choose for hosts do not. `name` is written as [`DnsQuestion::name`] is.
pub fn encoded_label(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        run.len() >= ENCODED_RUN
            && (run.bytes().all(|b| b.is_ascii_hexdigit())
                || (run.bytes().any(|b| b.is_ascii_digit())
                    && run.bytes().any(|b| b.is_ascii_alphabetic())
                    && entropy(run.as_bytes()) >= 3.2))
    }) || (name.contains('\\') && labels(name).any(|label| binary(&label)))
}

/// The fewest bytes outside printable ASCII in one label that [`encoded_label`] takes for raw data.
pub const BINARY_BYTES: usize = 8;

/// Whether a label's bytes are raw data: [`BINARY_BYTES`] or more outside printable ASCII, and no UTF-8 text.
fn binary(label: &[u8]) -> bool {
    label.iter().filter(|&&b| !(0x20..0x7f).contains(&b)).count() >= BINARY_BYTES && std::str::from_utf8(label).is_err()
}

/// The labels of a name written as [`DnsQuestion::name`] is, as the bytes sent (`\DDD` and `\.` read back).
fn labels(name: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    let bytes = name.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        if at > bytes.len() {
            return None;
        }
        let mut label = Vec::new();
        while at < bytes.len() && bytes[at] != b'.' {
            match (bytes[at], bytes.get(at + 1..at + 4)) {
                (b'\\', Some(d)) if d.iter().all(u8::is_ascii_digit) => {
                    let n = d.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
                    label.push(u8::try_from(n).unwrap_or(u8::MAX));
                    at += 4;
                }
                (b'\\', _) if at + 1 < bytes.len() => {
                    label.push(bytes[at + 1]);
                    at += 2;
                }
                (b, _) => {
                    label.push(b);
                    at += 1;
                }
            }
        }
        at += 1;
        Some(label)
    })
}

/// Shannon entropy of the bytes, in bits per byte (letters folded to lower case: DNS ignores case).
fn entropy(run: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in run {
        counts[usize::from(b.to_ascii_lowercase())] += 1;
    }
    let n = run.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes written in hex (a captured datagram).
    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    /// A query for `name` (dot-separated labels, no escapes) of type `t`, as a resolver builds it.
    fn query(name: &str, t: u16) -> Vec<u8> {
        let mut d = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.').filter(|l| !l.is_empty()) {
            d.push(label.len() as u8);
            d.extend_from_slice(label.as_bytes());
        }
        d.push(0);
        d.extend_from_slice(&t.to_be_bytes());
        d.extend_from_slice(&1u16.to_be_bytes());
        d
    }

    #[test]
    fn a_query_gives_its_name_and_type() {
        let q = dns_question(&query("www.Example.com", 28)).unwrap();
        assert_eq!((q.name.as_str(), q.qtype.as_str()), ("www.Example.com", "AAAA"));
        assert_eq!(dns_question(&query("x.example.net", 16)).unwrap().qtype, "TXT");
        assert_eq!(dns_question(&query("x.example.net", 4242)).unwrap().qtype, "4242");
        assert_eq!(dns_question(&query("", 2)).unwrap().name, ".");
        // Bytes no host name has are escaped, and so is a dot inside a label.
        let mut d = query("ab.cd", 1);
        d[13] = b'.';
        d[14] = 0xff;
        assert_eq!(dns_question(&d).unwrap().name, "\\.\\255.cd");
    }

    #[test]
    fn what_is_no_query_gives_nothing() {
        let ok = query("a.example.com", 1);
        assert!(dns_question(&ok[..11]).is_none(), "no header");
        assert!(dns_question(&ok[..ok.len() - 3]).is_none(), "cut in its type");
        let mut response = ok.clone();
        response[2] |= 0x80;
        assert!(dns_question(&response).is_none());
        let mut none = ok.clone();
        none[5] = 0;
        assert!(dns_question(&none).is_none(), "no question");
        let mut pointer = ok.clone();
        pointer[12] = 0xc0;
        assert!(dns_question(&pointer).is_none());
        let mut long = ok.clone();
        long[12] = 64;
        assert!(dns_question(&long).is_none(), "a label over 63 bytes");
        // Five labels of 63: 320 bytes of name, over the 255 a name may have.
        let name = vec!["a".repeat(63); 5].join(".");
        assert!(dns_question(&query(&name, 1)).is_none());
        let name = vec!["a".repeat(63); 3].join(".");
        assert!(dns_question(&query(&name, 1)).is_some());
        assert!(dns_question(b"SSH-2.0-OpenSSH_9.6\r\n").is_none(), "not DNS at all");
        for n in 0..ok.len() {
            assert!(dns_question(&ok[..n]).is_none(), "{n} bytes");
        }
    }

    #[test]
    fn the_zone_is_the_registered_name() {
        assert_eq!(dns_zone("4b6f6e.17.x.example.net"), "example.net");
        assert_eq!(dns_zone("example.net"), "example.net");
        assert_eq!(dns_zone("localhost"), "localhost");
        assert_eq!(dns_zone("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(dns_zone("x.y.example.com.au"), "example.com.au");
        assert_eq!(dns_zone("db.default.svc.cluster.local"), "cluster.local");
        assert_eq!(dns_zone("example.com."), "example.com");
        assert_eq!(dns_zone("co.uk"), "co.uk");
        assert_eq!(dns_zone("a\\.b.example"), "a\\.b.example", "an escaped dot is inside its label");
        // The labels are told by the unescaped dots: `\.` is a label of one byte below `uk`, a second level as short
        // as `co`.
        assert_eq!(dns_zone("y.x.\\..uk"), "x.\\..uk");
        assert_eq!(dns_zone("."), "");
        // Found by fuzzing: a label ending in a dot keeps it (the zone is a suffix of the name).
        assert_eq!(dns_zone("www.example.c\\."), "example.c\\.");
        // By the public-suffix list: a short name under a country's domain is a registered one, not a second level
        // (the old two-labels reading gave `api.x.ai`, `cdn.t.me`); deeper public suffixes; an exception rule.
        assert_eq!(dns_zone("api.x.ai"), "x.ai");
        assert_eq!(dns_zone("cdn.t.me"), "t.me");
        assert_eq!(dns_zone("www.health.vic.gov.au"), "health.vic.gov.au");
        assert_eq!(dns_zone("www.city.kawasaki.jp"), "city.kawasaki.jp");
        assert_eq!(dns_zone("Mail.Example.CO.UK"), "Example.CO.UK", "the case kept, the list asked in lower case");
        // Private suffixes are their companies' zones; reverse look-ups one zone each.
        assert_eq!(dns_zone("bucket.s3.amazonaws.com"), "amazonaws.com");
        assert_eq!(dns_zone("a8f1e4b6-12.us-west-2.elb.amazonaws.com"), "amazonaws.com");
        assert_eq!(dns_zone("someone.github.io"), "github.io");
        assert_eq!(dns_zone("1.0.0.127.in-addr.arpa"), "in-addr.arpa");
        assert_eq!(dns_zone("b.a.9.8.ip6.arpa."), "ip6.arpa");
        assert_eq!(dns_zone("host.internal"), "host.internal");
    }

    #[test]
    fn any_text_gives_a_zone_that_ends_it() {
        // Names from a list or a rule, not only from datagrams: empty labels, escapes, letters beyond ASCII, dots at
        // either end. A deterministic sweep (the fuzz target `dns_question` does the same at random).
        let alphabet = [
            "a",
            "b",
            "co",
            "uk",
            ".",
            ".",
            "\\",
            "\\.",
            "ü",
            "x",
            "0",
            "-",
            "amazonaws",
            "s3",
            "com",
            "arpa",
            "in-addr",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 9) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let zone = dns_zone(&text);
            let trimmed = text.strip_suffix('.').unwrap_or(&text);
            assert!(text.ends_with(zone) || trimmed.ends_with(zone), "{text:?} gave {zone:?}");
            let _ = encoded_label(&text);
        }
    }

    #[test]
    fn encoded_data_in_a_label_is_told_from_names() {
        let hex = "4b6f6e74656e3a2061646d696e2070617373776f72643a2068756e74657232";
        assert!(encoded_label(&format!("{hex}.0.x.example.net")));
        // The start of an SQLite file, hex-encoded: mostly zeros, still data; so is its zero padding.
        assert!(encoded_label(&format!("{}.90.x.example.net", "0".repeat(60))));
        assert!(encoded_label("53514c69746520666f726d61742033001000010100402020000000090000.0.x.example.net"));
        assert!(encoded_label("mfrggzdfmztwq2lknnwg23tpobyxe43uov3ho6dzpiaq.t.example.org"), "base32");
        assert!(encoded_label("dGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcw.example.org"), "base64");
        // A query iodine 0.7.0 sent with its base128 codec (upstream data in bytes 0x80–0xFF), as captured.
        let iodine = hex_bytes(
            "070b010000010000000000013730656162613832ca326449f542de6161bfe0d9fdfd41ca716d6bedec31484538d553f1fd7a6d4b61\
             767a5668f5306561576357d86bdbbe0169076578616d706c65036e657400000a00010000291000000080000000",
        );
        let q = dns_question(&iodine).unwrap();
        assert!(q.name.ends_with(".i.example.net") && q.qtype == "NULL", "{q:?}");
        assert!(encoded_label(&q.name), "{}", q.name);
        // The same bytes read back from the written name; an escaped dot stays inside its label.
        assert_eq!(labels("a\\.b\\200.c").collect::<Vec<_>>(), [b"a.b\xc8".to_vec(), b"c".to_vec()]);
        for name in [
            "www.example.com",
            "internationalbusinessmachinescorporation.com",
            "my-deploy-5d8f7c9b6-x2k4j.default.svc.cluster.local",
            "vpce-0a1b2c3d4e5f6a7b8-abcdefgh.s3.us-east-1.vpce.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "d3f8a1b2c4e5f6.cloudfront.net",
            "ec2-54-12-34-56.compute-1.amazonaws.com",
            "postgresql-primary-0.postgresql-headless.databases.svc.cluster.local",
            // A name in someone's own script, sent as UTF-8 rather than punycode: text, not data.
            "\\230\\157\\177\\228\\186\\172\\233\\131\\189.example.jp",
            // iodine's codec check holds a word in Latin-1: one byte, too few to be data.
            "zo2taA-Aaahhh-Drink-mal-ein-J\\228germeister-.i.example.net",
        ] {
            assert!(!encoded_label(name), "{name}");
        }
    }
}
