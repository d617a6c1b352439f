//! Falco's condition language, parsed: `and`/`or`/`not`, parentheses, macro references, and checks
//! `FIELD OP VALUE` where the value is a bare word, a quoted string, a parenthesised list (which may
//! name lists), or `val(FIELD)`. Unary `exists`. Field transformers `tolower`, `toupper`, `b64`,
//! `basename`.
//!
//! Parsing turns a condition into [`Ast`] with names unresolved; [`super::RuleSet`] resolves macros and
//! lists and binds fields.

use std::fmt;

/// A parse error with the byte offset in the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset.
    pub at: usize,
    /// What was wrong.
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.at, self.what)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `intersects`
    Intersects,
    /// `contains`
    Contains,
    /// `icontains`
    IContains,
    /// `bcontains` (hex bytes)
    BContains,
    /// `startswith`
    StartsWith,
    /// `bstartswith` (hex bytes)
    BStartsWith,
    /// `endswith`
    EndsWith,
    /// `glob`
    Glob,
    /// `iglob`
    IGlob,
    /// `pmatch`
    PMatch,
    /// `regex`
    Regex,
    /// `exists` (unary)
    Exists,
}

impl Op {
    fn from_word(w: &str) -> Option<Op> {
        Some(match w {
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "pmatch" => Op::PMatch,
            "regex" => Op::Regex,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    /// The operator as written in a condition.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::PMatch => "pmatch",
            Op::Regex => "regex",
            Op::Exists => "exists",
        }
    }
}

/// A field reference: `proc.aname[2]`, `evt.arg.flags`, `tolower(proc.name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The field's name without its argument (`proc.aname`, `evt.arg.flags`).
    pub name: String,
    /// The bracketed argument, if any (`2` in `proc.aname[2]`).
    pub arg: Option<String>,
    /// Transformers, innermost first.
    pub transforms: Vec<String>,
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in self.transforms.iter().rev() {
            write!(f, "{t}(")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(a) = &self.arg {
            write!(f, "[{a}]")?;
        }
        for _ in &self.transforms {
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// The right-hand side of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// None (for `exists`).
    None,
    /// One word or string.
    One(String),
    /// A parenthesised list; bare items may name lists.
    List(Vec<Item>),
    /// `val(FIELD)`: another field of the same event.
    Field(FieldRef),
}

/// A list item: quoted strings are literal, bare words may name a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The text.
    pub text: String,
    /// True when it was quoted.
    pub quoted: bool,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ast {
    /// All of.
    And(Vec<Ast>),
    /// Any of.
    Or(Vec<Ast>),
    /// Not.
    Not(Box<Ast>),
    /// A bare identifier: a macro's name.
    Macro(String),
    /// `FIELD OP VALUE`.
    Check(FieldRef, Op, Value),
}

const TRANSFORMS: [&str; 4] = ["tolower", "toupper", "b64", "basename"];

/// Parses a condition.
pub fn parse(text: &str) -> Result<Ast, ParseError> {
    let mut p = Parser { s: text.as_bytes(), i: 0, depth: 0 };
    let ast = p.or()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("unexpected text after the end of the condition"));
    }
    Ok(ast)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    fn err(&self, what: &str) -> ParseError {
        let near: String = String::from_utf8_lossy(&self.s[self.i..(self.i + 24).min(self.s.len())]).into();
        ParseError { at: self.i, what: format!("{what} (near {near:?})") }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// The keyword at the cursor, if it is `kw` followed by a delimiter.
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let end = self.i + kw.len();
        if end <= self.s.len() && &self.s[self.i..end] == kw.as_bytes() {
            let next = self.s.get(end).copied();
            if next.is_none_or(|c| c.is_ascii_whitespace() || c == b'(' || c == b')') {
                self.i = end;
                return true;
            }
        }
        false
    }

    fn or(&mut self) -> Result<Ast, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("condition nested too deeply"));
        }
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            parts.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Ast::And(vec![])) } else { Ast::Or(parts) })
    }

    fn and(&mut self) -> Result<Ast, ParseError> {
        let mut parts = vec![self.not()?];
        while self.keyword("and") {
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Ast::And(vec![])) } else { Ast::And(parts) })
    }

    fn not(&mut self) -> Result<Ast, ParseError> {
        if self.keyword("not") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.err("condition nested too deeply"));
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Ast::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, ParseError> {
        self.ws();
        match self.peek() {
            None => Err(self.err("condition ends too early")),
            Some(b'(') => {
                self.i += 1;
                let inner = self.or()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(self.err("expected `)`"));
                }
                self.i += 1;
                Ok(inner)
            }
            Some(_) => {
                let start = self.i;
                let field = self.field()?;
                self.ws();
                match self.operator() {
                    Some(Op::Exists) => Ok(Ast::Check(field, Op::Exists, Value::None)),
                    Some(op) => {
                        let v = self.value(op)?;
                        Ok(Ast::Check(field, op, v))
                    }
                    None => {
                        if field.arg.is_some() || !field.transforms.is_empty() {
                            self.i = start;
                            return Err(self.err("a field needs an operator"));
                        }
                        Ok(Ast::Macro(field.name))
                    }
                }
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' && self.i > start {
                self.i += 1;
            } else {
                break;
            }
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn field(&mut self) -> Result<FieldRef, ParseError> {
        let Some(name) = self.ident() else { return Err(self.err("expected a field or a macro name")) };
        if TRANSFORMS.contains(&name.as_str()) && self.peek() == Some(b'(') {
            self.i += 1;
            self.ws();
            let mut inner = self.field()?;
            self.ws();
            if self.peek() != Some(b')') {
                return Err(self.err("expected `)` after the transformed field"));
            }
            self.i += 1;
            inner.transforms.push(name);
            return Ok(inner);
        }
        let mut arg = None;
        if self.peek() == Some(b'[') {
            let start = self.i + 1;
            while self.peek().is_some_and(|c| c != b']') {
                self.i += 1;
            }
            if self.peek() != Some(b']') {
                return Err(self.err("unclosed `[`"));
            }
            arg = Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned());
            self.i += 1;
        }
        Ok(FieldRef { name, arg, transforms: vec![] })
    }

    fn operator(&mut self) -> Option<Op> {
        let rest = &self.s[self.i..];
        for (sym, op) in [("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge)] {
            if rest.starts_with(sym.as_bytes()) {
                self.i += 2;
                return Some(op);
            }
        }
        for (sym, op) in [(b'=', Op::Eq), (b'<', Op::Lt), (b'>', Op::Gt)] {
            if rest.first() == Some(&sym) {
                self.i += 1;
                return Some(op);
            }
        }
        let save = self.i;
        let word = self.ident()?;
        match Op::from_word(&word) {
            Some(op) if self.peek().is_none_or(|c| c.is_ascii_whitespace() || c == b'(' || c == b')') => Some(op),
            _ => {
                self.i = save;
                None
            }
        }
    }

    fn value(&mut self, op: Op) -> Result<Value, ParseError> {
        self.ws();
        if self.peek() == Some(b'(') {
            self.i += 1;
            let mut items = Vec::new();
            loop {
                self.ws();
                match self.peek() {
                    Some(b')') => {
                        self.i += 1;
                        return Ok(Value::List(items));
                    }
                    Some(b',') => self.i += 1,
                    None => return Err(self.err("unclosed list")),
                    Some(c) => {
                        let (text, quoted) = self.word(true)?;
                        if text.is_empty() && !quoted {
                            // Only `(` stops a bare word before its first byte here.
                            return Err(self.err(&format!("`{}` cannot stand in a list", c as char)));
                        }
                        items.push(Item { text, quoted });
                    }
                }
            }
        }
        // val(field)
        let save = self.i;
        if self.s[self.i..].starts_with(b"val(") {
            self.i += 4;
            self.ws();
            let f = self.field()?;
            self.ws();
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(Value::Field(f));
            }
            self.i = save;
        }
        let (text, quoted) = self.word(false)?;
        if text.is_empty() && !quoted {
            return Err(self.err(&format!("`{}` needs a value", op.as_str())));
        }
        Ok(Value::One(text))
    }

    /// A quoted string or a bare word (up to white space, `)` and — in lists — `,`).
    fn word(&mut self, in_list: bool) -> Result<(String, bool), ParseError> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err(self.err("unclosed string")),
                        Some(c) if c == q => {
                            self.i += 1;
                            break;
                        }
                        Some(b'\\') if self.s.get(self.i + 1).is_some() => {
                            out.push(self.s[self.i + 1]);
                            self.i += 2;
                        }
                        Some(c) => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
                Ok((String::from_utf8_lossy(&out).into_owned(), true))
            }
            _ => {
                let start = self.i;
                // Bare words may hold balanced parentheses only inside brackets (globs like `[a-z]`).
                while let Some(c) = self.peek() {
                    if c.is_ascii_whitespace() || c == b')' || c == b'(' || (in_list && c == b',') {
                        break;
                    }
                    self.i += 1;
                }
                Ok((String::from_utf8_lossy(&self.s[start..self.i]).into_owned(), false))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: &str, op: Op, v: Value) -> Ast {
        Ast::Check(FieldRef { name: f.into(), arg: None, transforms: vec![] }, op, v)
    }

    #[test]
    fn precedence_lists_and_macros() {
        let a =
            parse("spawned_process and not proc.name in (sh, 'ba sh', shell_binaries) or fd.name=/etc/shadow").unwrap();
        let list = Value::List(vec![
            Item { text: "sh".into(), quoted: false },
            Item { text: "ba sh".into(), quoted: true },
            Item { text: "shell_binaries".into(), quoted: false },
        ]);
        assert_eq!(
            a,
            Ast::Or(vec![
                Ast::And(vec![
                    Ast::Macro("spawned_process".into()),
                    Ast::Not(Box::new(check("proc.name", Op::In, list)))
                ]),
                check("fd.name", Op::Eq, Value::One("/etc/shadow".into())),
            ])
        );
    }

    #[test]
    fn arguments_transformers_val_exists() {
        let a =
            parse("proc.aname[2]=sh and tolower(proc.name) != \"X\" and proc.pname exists and fd.name = val(proc.exe)")
                .unwrap();
        let Ast::And(parts) = a else { panic!() };
        assert_eq!(parts.len(), 4);
        assert!(
            matches!(&parts[0], Ast::Check(f, Op::Eq, Value::One(v)) if f.arg.as_deref() == Some("2") && v == "sh")
        );
        assert!(matches!(&parts[1], Ast::Check(f, Op::Ne, _) if f.transforms == ["tolower"]));
        assert!(matches!(&parts[2], Ast::Check(_, Op::Exists, Value::None)));
        assert!(matches!(&parts[3], Ast::Check(_, Op::Eq, Value::Field(f)) if f.name == "proc.exe"));
        // Keywords need a delimiter: `notify` is a macro, not `not ify`.
        assert_eq!(parse("notify").unwrap(), Ast::Macro("notify".into()));
        assert_eq!(parse("(a)and(b)").unwrap(), Ast::And(vec![Ast::Macro("a".into()), Ast::Macro("b".into())]));
    }

    #[test]
    fn errors_name_the_place() {
        for bad in [
            "",
            "(a",
            "proc.name =",
            "proc.name in (a, b",
            "a and",
            "proc.name = 'x",
            "a b",
            "proc.name in (a, (b))",
            "proc.name in ((a))",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.at <= bad.len(), "{bad}: {e}");
        }
        let deep = "not ".repeat(10_000) + "a";
        assert!(parse(&deep).is_err());
        let deep = "(".repeat(10_000);
        assert!(parse(&deep).is_err());
    }
}
