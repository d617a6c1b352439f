fn main() {
    let mut set = kestrel_detect::rules::RuleSet::builtin();
    for f in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&f).unwrap();
        set.add_file(&f, &text).unwrap();
    }
    let c = set.compile();
    println!("{}", serde_json::to_string_pretty(&c.report).unwrap());
}
