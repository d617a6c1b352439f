//! SQL text with numbered placeholders (`$1`, `$2`…) and the values bound to them, in order — the one
//! placeholder form that both SQLite and PostgreSQL read (sqlx's `QueryBuilder` over the `Any` driver writes
//! `?`, which PostgreSQL rejects).

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// A value to bind.
#[derive(Debug, Clone)]
pub enum Value {
    /// An integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// Text.
    Text(String),
}

impl Value {
    /// Text from a borrowed string.
    pub fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

/// A statement being built.
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// Starts with `text`.
    pub fn new(text: &str) -> Sql {
        Sql { text: text.to_string(), values: Vec::new() }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `v`.
    pub fn bind(&mut self, v: Value) -> &mut Sql {
        self.values.push(v);
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends `VALUES (…), (…)`, one row per item.
    pub fn values<T>(&mut self, items: &[T], row: impl Fn(&T) -> Vec<Value>) -> &mut Sql {
        self.push("VALUES ");
        for (i, item) in items.iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            for (j, v) in row(item).into_iter().enumerate() {
                if j > 0 {
                    self.push(", ");
                }
                self.bind(v);
            }
            self.push(")");
        }
        self
    }

    /// The query, values bound.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for v in &self.values {
            q = match v {
                Value::I64(n) => q.bind(*n),
                Value::F64(f) => q.bind(*f),
                Value::Text(t) => q.bind(t.as_str()),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut s = super::Sql::new("INSERT INTO t (a, b) ");
        s.values(&[1, 2], |i| vec![super::Value::I64(*i), super::Value::text("x")]);
        s.push(" WHERE c = ").bind(super::Value::F64(0.5));
        assert_eq!(s.text, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) WHERE c = $5");
        assert_eq!(s.values.len(), 5);
    }
}
