//! Opaque page cursors: the sort key of the last item of a page, `TIME.NODE.ID` with node and id in hex (so
//! that any byte in them survives a URL and the split).

/// The cursor after an alert.
pub fn encode(time_ns: i64, node: &str, id: &str) -> String {
    format!("{time_ns}.{}.{}", hex::encode(node), hex::encode(id))
}

/// The sort key of a cursor; `None` when it is not one.
pub fn decode(c: &str) -> Option<(i64, String, String)> {
    let mut parts = c.splitn(3, '.');
    let t = parts.next()?.parse().ok()?;
    let node = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
    let id = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
    Some((t, node, id))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_garbage() {
        let c = super::encode(17, "node.a:1", "id/2.x");
        assert_eq!(super::decode(&c), Some((17, "node.a:1".into(), "id/2.x".into())));
        assert_eq!(super::decode("x.y.z"), None);
        assert_eq!(super::decode("1.zz.00"), None);
        assert_eq!(super::decode(""), None);
    }
}
