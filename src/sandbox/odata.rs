//! OData query options as Graph implements them for the emulated collections: `$filter` (a small
//! expression language: eq/ne/gt/ge/lt/le, and/or/not, `startswith`, `any` lambdas, type casts),
//! `$select`, `$top`, `$skip`, `$count`, `$expand` names, and `@odata.nextLink` paging with an opaque
//! `$skiptoken`.
//!
//! Each route states which properties may be filtered; anything else is rejected the way the real
//! service rejects it, so a client that relies on an undocumented filter fails here first.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::errors::GraphError;

/// Parsed query options of one request.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub filter: Option<String>,
    pub select: Option<Vec<String>>,
    pub top: Option<usize>,
    pub skip: Option<usize>,
    pub skiptoken: Option<String>,
    pub expand: Vec<String>,
    pub count: bool,
    pub orderby: Option<String>,
    pub search: Option<String>,
    /// The remaining non-OData parameters, kept for nextLinks.
    pub others: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Result<Query, GraphError> {
        let mut q = Query::default();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            let (k, v) = (k.to_string(), v.to_string());
            match k.trim_start_matches('$').to_ascii_lowercase().as_str() {
                _ if !k.starts_with('$') => q.others.push((k, v)),
                "filter" => q.filter = Some(v),
                "select" => {
                    q.select = Some(
                        v.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "top" => q.top = Some(parse_num(&k, &v)?),
                "skip" => q.skip = Some(parse_num(&k, &v)?),
                "skiptoken" => q.skiptoken = Some(v),
                "expand" => q.expand = expand_names(&v),
                "count" => q.count = v.eq_ignore_ascii_case("true"),
                "orderby" => q.orderby = Some(v),
                "search" => q.search = Some(v),
                "format" => {}
                _ => {
                    return Err(GraphError::new(
                        400,
                        "BadRequest",
                        format!(
                            "Query option '{k}' is not allowed. Make sure that the query option is supported and spelled correctly."
                        ),
                    ));
                }
            }
        }
        Ok(q)
    }
}

fn parse_num(k: &str, v: &str) -> Result<usize, GraphError> {
    v.parse().map_err(|_| {
        GraphError::new(
            400,
            "BadRequest",
            format!("Invalid value '{v}' for query option '{k}'."),
        )
    })
}

// ---------------------------------------------------------------- $filter

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Lit(String),
    Open,
    Close,
    Comma,
    Colon,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || ":.+-".contains(chars[i]))
                {
                    i += 1;
                }
                out.push(Tok::Lit(chars[start..i].iter().collect()));
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '@' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "_./@".contains(chars[i]))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("syntax error at '{other}'")),
        }
    }
    Ok(out)
}

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        path: String,
        op: String,
        value: Value,
    },
    StartsWith {
        path: String,
        prefix: String,
    },
    Any {
        path: String,
        var: String,
        body: Box<Expr>,
    },
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(got) if got == t => Ok(()),
            got => Err(format!("expected {t:?}, found {got:?}")),
        }
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let e = self.or()?;
            self.expect(Tok::Close)?;
            return Ok(e);
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, String> {
        let Some(Tok::Ident(name)) = self.next() else {
            return Err("expected a property".into());
        };
        if name.eq_ignore_ascii_case("startswith") {
            self.expect(Tok::Open)?;
            let Some(Tok::Ident(path)) = self.next() else {
                return Err("startswith needs a property".into());
            };
            self.expect(Tok::Comma)?;
            let Some(Tok::Str(prefix)) = self.next() else {
                return Err("startswith needs a string".into());
            };
            self.expect(Tok::Close)?;
            return Ok(Expr::StartsWith { path, prefix });
        }
        if let Some(path) = name.strip_suffix("/any") {
            self.expect(Tok::Open)?;
            let Some(Tok::Ident(var)) = self.next() else {
                return Err("any needs a variable".into());
            };
            self.expect(Tok::Colon)?;
            let body = self.or()?;
            self.expect(Tok::Close)?;
            return Ok(Expr::Any {
                path: path.to_string(),
                var,
                body: Box::new(body),
            });
        }
        if self.peek() == Some(&Tok::Open) {
            return Err(format!("function '{name}' is not supported"));
        }
        let Some(Tok::Ident(op)) = self.next() else {
            return Err("expected an operator".into());
        };
        let op = op.to_ascii_lowercase();
        if !["eq", "ne", "gt", "ge", "lt", "le"].contains(&op.as_str()) {
            return Err(format!("operator '{op}' is not supported"));
        }
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Lit(l)) => l
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(l)),
            Some(Tok::Ident(i)) if i == "null" => Value::Null,
            Some(Tok::Ident(i)) if i == "true" || i == "false" => Value::Bool(i == "true"),
            other => return Err(format!("expected a literal, found {other:?}")),
        };
        Ok(Expr::Cmp {
            path: name,
            op,
            value,
        })
    }
}

impl Expr {
    pub fn parse(s: &str) -> Result<Expr, String> {
        let mut p = Parser {
            toks: tokenize(s)?,
            pos: 0,
        };
        let e = p.or()?;
        if p.pos != p.toks.len() {
            return Err("unexpected trailing input".into());
        }
        Ok(e)
    }

    /// Root property names this expression reads, and whether it uses an advanced operator (`ne`, `not`).
    pub fn properties(&self, out: &mut Vec<String>, advanced: &mut bool) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.properties(out, advanced);
                b.properties(out, advanced)
            }
            Expr::Not(a) => {
                *advanced = true;
                a.properties(out, advanced)
            }
            Expr::Cmp { path, op, .. } => {
                if op == "ne" {
                    *advanced = true
                }
                out.push(path.clone())
            }
            Expr::StartsWith { path, .. } => out.push(path.clone()),
            Expr::Any { path, .. } => out.push(format!("{path}/any")),
        }
    }

    pub(crate) fn eval(&self, item: &Value) -> bool {
        self.eval_in(item, None)
    }

    fn eval_in(&self, item: &Value, var: Option<(&str, &Value)>) -> bool {
        match self {
            Expr::And(a, b) => a.eval_in(item, var) && b.eval_in(item, var),
            Expr::Or(a, b) => a.eval_in(item, var) || b.eval_in(item, var),
            Expr::Not(a) => !a.eval_in(item, var),
            Expr::Cmp { path, op, value } => compare(resolve(item, path, var).as_ref(), op, value),
            Expr::StartsWith { path, prefix } => resolve(item, path, var)
                .and_then(|v| {
                    v.as_str()
                        .map(|s| s.to_lowercase().starts_with(&prefix.to_lowercase()))
                })
                .unwrap_or(false),
            Expr::Any {
                path,
                var: name,
                body,
            } => match resolve(item, path, var) {
                Some(Value::Array(elems)) => elems
                    .iter()
                    .any(|e| body.eval_in(item, Some((name.as_str(), e)))),
                _ => false,
            },
        }
    }
}

/// Resolves `a/b/microsoft.graph.type/c` against an item (or the lambda variable).
fn resolve(item: &Value, path: &str, var: Option<(&str, &Value)>) -> Option<Value> {
    let mut segs = path.split('/').peekable();
    let mut cur = item.clone();
    if let (Some((name, val)), Some(first)) = (var, segs.peek())
        && *first == name
    {
        cur = val.clone();
        segs.next();
    }
    for seg in segs {
        if let Some(ty) = seg.strip_prefix("microsoft.graph.") {
            let actual = cur
                .get("@odata.type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !actual
                .trim_start_matches('#')
                .eq_ignore_ascii_case(&format!("microsoft.graph.{ty}"))
            {
                return None;
            }
            continue;
        }
        cur = cur.get(seg)?.clone();
    }
    Some(cur)
}

fn compare(actual: Option<&Value>, op: &str, expected: &Value) -> bool {
    let actual = actual.cloned().unwrap_or(Value::Null);
    let ord = match (&actual, expected) {
        (Value::String(a), Value::String(b)) => {
            match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
                (Ok(x), Ok(y)) => Some(x.cmp(&y)),
                _ => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            }
        }
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(x, y)| x.partial_cmp(&y)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        _ => None,
    };
    use std::cmp::Ordering::*;
    match (op, ord) {
        ("eq", Some(o)) => o == Equal,
        ("ne", Some(o)) => o != Equal,
        ("ne", None) => true,
        ("gt", Some(o)) => o == Greater,
        ("ge", Some(o)) => o != Less,
        ("lt", Some(o)) => o == Less,
        ("le", Some(o)) => o != Greater,
        _ => false,
    }
}

/// How a collection answers query options (directory objects vs. other workloads differ).
#[derive(Debug, Clone, Copy)]
pub struct CollectionRules {
    /// Filterable root properties (`x/any` for lambdas over collection `x`).
    pub filterable: &'static [&'static str],
    /// Directory objects: `$skip` unsupported, `$top` ≤ 999, advanced queries need ConsistencyLevel.
    pub directory: bool,
    /// Paging by `$skip` in nextLinks (security API) instead of a `$skiptoken`.
    pub skip_paging: bool,
    pub max_top: usize,
    pub type_name: &'static str,
}

/// Applies `$filter`, then pages; returns the rendered page body.
pub struct Page {
    pub items: Vec<Value>,
    pub next_offset: Option<usize>,
    pub count: usize,
}

pub(crate) fn check_filter(
    q: &Query,
    rules: &CollectionRules,
    eventual: bool,
) -> Result<Option<Expr>, GraphError> {
    let Some(f) = &q.filter else { return Ok(None) };
    let unsupported = |m: String| {
        if rules.directory {
            GraphError::unsupported_query(m)
        } else {
            GraphError::new(400, "invalidRequest", m)
        }
    };
    let expr = Expr::parse(f).map_err(|e| unsupported(format!("Invalid filter clause: {e}")))?;
    let (mut props, mut advanced) = (Vec::new(), false);
    expr.properties(&mut props, &mut advanced);
    for p in props {
        let root = if p.ends_with("/any") {
            p.clone()
        } else {
            p.split('/').next().unwrap_or_default().to_string()
        };
        let full_ok = rules
            .filterable
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&p) || f.eq_ignore_ascii_case(&root));
        if !full_ok {
            return Err(unsupported(format!(
                "Unsupported or invalid query filter clause specified for property '{p}' of resource '{}'.",
                rules.type_name
            )));
        }
    }
    if advanced && rules.directory && !(eventual && q.count) {
        return Err(unsupported("Unsupported query. Advanced query operators such as 'ne' and 'not' require the ConsistencyLevel header set to 'eventual' and $count=true.".into()));
    }
    Ok(Some(expr))
}

/// Filters and slices `items` per the query; `offset` comes from a skiptoken or `$skip`.
pub fn page(
    items: Vec<Value>,
    q: &Query,
    rules: &CollectionRules,
    default_page: usize,
    eventual: bool,
) -> Result<Page, GraphError> {
    let expr = check_filter(q, rules, eventual)?;
    if rules.directory && q.skip.is_some() {
        return Err(GraphError::bad_request(
            "'$skip' is not supported by the service.",
        ));
    }
    if rules.directory && q.count && !eventual {
        return Err(GraphError::unsupported_query(
            "$count is not currently supported without the ConsistencyLevel header set to 'eventual'.",
        ));
    }
    if q.search.is_some() || q.orderby.is_some() {
        return Err(GraphError::unsupported_query(
            "$search and $orderby are not supported by the sandbox for this collection.",
        ));
    }
    let top = q.top.unwrap_or(default_page);
    if top == 0 || top > rules.max_top {
        return Err(GraphError::bad_request(format!(
            "Invalid page size specified: '{top}'. Must be between 1 and {}.",
            rules.max_top
        )));
    }
    let filtered: Vec<Value> = items
        .into_iter()
        .filter(|v| expr.as_ref().is_none_or(|e| e.eval(v)))
        .collect();
    let offset = match &q.skiptoken {
        Some(t) => decode_skiptoken(t)?,
        None => q.skip.unwrap_or(0),
    };
    let count = filtered.len();
    let end = (offset + top).min(count);
    let slice = filtered.into_iter().skip(offset).take(top).collect();
    Ok(Page {
        items: slice,
        next_offset: (end < count).then_some(end),
        count,
    })
}

pub(crate) fn encode_skiptoken(offset: usize) -> String {
    // Opaque on purpose: clients must follow nextLink verbatim, never build it.
    let raw = format!(
        "sbx1:{offset}:{}",
        offset.wrapping_mul(2_654_435_761) % 1_000_003
    );
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_skiptoken(t: &str) -> Result<usize, GraphError> {
    let bad = || {
        GraphError::new(
            400,
            "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be included in your request.",
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(t).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.split(':');
    let (Some("sbx1"), Some(off), Some(check)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let off: usize = off.parse().map_err(|_| bad())?;
    if check != (off.wrapping_mul(2_654_435_761) % 1_000_003).to_string() {
        return Err(bad());
    }
    Ok(off)
}

/// Projects `$select` (keeps `@odata.*` annotations).
pub fn select(v: &Value, select: &Option<Vec<String>>) -> Value {
    let (Some(fields), Value::Object(map)) = (select, v) else {
        return v.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, val) in map {
        if k.starts_with("@odata") || fields.iter().any(|f| f.eq_ignore_ascii_case(k)) {
            out.insert(k.clone(), val.clone());
        }
    }
    Value::Object(out)
}

/// Builds the collection body, with `@odata.nextLink` when more items follow.
pub(crate) fn collection_body(
    context: &str,
    page: Page,
    q: &Query,
    rules: &CollectionRules,
    self_url: &str,
) -> Value {
    let mut body = json!({"@odata.context": context});
    if q.count {
        body["@odata.count"] = json!(page.count);
    }
    if let Some(next) = page.next_offset {
        let mut params: Vec<(String, String)> = q.others.clone();
        if let Some(f) = &q.filter {
            params.push(("$filter".into(), f.clone()))
        }
        if let Some(s) = &q.select {
            params.push(("$select".into(), s.join(",")))
        }
        if let Some(t) = q.top {
            params.push(("$top".into(), t.to_string()))
        }
        if !q.expand.is_empty() {
            params.push(("$expand".into(), q.expand.join(",")))
        }
        if q.count {
            params.push(("$count".into(), "true".into()))
        }
        if rules.skip_paging {
            params.push(("$skip".into(), next.to_string()));
        } else {
            params.push(("$skiptoken".into(), encode_skiptoken(next)));
        }
        // Graph writes the `$` of system query options literally; only values are escaped.
        let qs = params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        body["@odata.nextLink"] = json!(format!("{self_url}?{qs}"));
    }
    body["value"] = Value::Array(page.items.iter().map(|v| select(v, &q.select)).collect());
    body
}

/// `$expand` property names: commas inside nested options (`a($expand=b,c)`) do not separate
/// items, and the nested options themselves are dropped (the sandbox always expands fully).
pub(crate) fn expand_names(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for ch in v.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ if depth > 0 => continue,
            _ => {}
        }
        if depth == 0 && ch != ')' {
            cur.push(ch);
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out.retain(|s| !s.is_empty());
    out
}
