//! Canonical JSON for cache keys: the same document written with other key order or whitespace
//! gives the same bytes, so clients that serialise differently still share cache entries.
//!
//! Only structure is normalised. Strings and numbers are kept exactly as written (`1.0` and `1`,
//! `"a"` and `"\u0061"` stay different): rewriting them would need a decision about precision and
//! escapes that could make two requests a provider treats differently share an entry.

/// Deeper documents are hashed as bytes rather than risk the stack on hostile input.
const MAX_DEPTH: usize = 128;

/// The canonical form of `body`, or `None` if it is not a single valid JSON document.
pub(crate) fn canonical_json(body: &[u8]) -> Option<Vec<u8>> {
    let mut parser = Parser {
        input: body,
        pos: 0,
    };
    parser.skip_whitespace();
    let node = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != body.len() {
        return None;
    }
    let mut out = Vec::with_capacity(body.len());
    node.write(&mut out);
    Some(out)
}

/// A parsed value; scalars borrow their text from the input as written.
enum Node<'a> {
    Scalar(&'a [u8]),
    Array(Vec<Node<'a>>),
    /// Members as (key with its quotes, value).
    Object(Vec<(&'a [u8], Node<'a>)>),
}

impl Node<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Scalar(text) => out.extend_from_slice(text),
            Node::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Node::Object(members) => {
                out.push(b'{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(key);
                    out.push(b':');
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Node::Scalar),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<Node<'a>> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(Node::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return None;
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        // Stable: members with the same key keep their order, which decides which one wins.
        members.sort_by(|a, b| a.0.cmp(b.0));
        Some(Node::Object(members))
    }

    fn array(&mut self, depth: usize) -> Option<Node<'a>> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(Node::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(Node::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// A string with its quotes, as written.
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return self.input.get(start..self.pos);
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            let hex = self.input.get(self.pos + 1..self.pos + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.pos += 5;
                        }
                        _ => return None,
                    }
                }
                0x00..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Option<Node<'a>> {
        let text = self.input.get(self.pos..self.pos + word.len())?;
        if text != word {
            return None;
        }
        self.pos += word.len();
        Some(Node::Scalar(text))
    }

    fn number(&mut self) -> Option<Node<'a>> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.required_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        self.input.get(start..self.pos).map(Node::Scalar)
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_json;

    fn canon(text: &str) -> Option<String> {
        canonical_json(text.as_bytes()).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn sorts_keys_and_drops_whitespace_at_every_level() {
        let text = " {\n \"model\" : \"m\", \"messages\": [ {\"role\":\"user\", \"content\": \"a b\"} ],\r\n\t\"a\":{\"z\":1,\"b\":[]} } ";
        assert_eq!(
            canon(text).as_deref(),
            Some(
                r#"{"a":{"b":[],"z":1},"messages":[{"content":"a b","role":"user"}],"model":"m"}"#
            )
        );
    }

    #[test]
    fn keeps_numbers_strings_and_array_order_as_written() {
        assert_eq!(
            canon(r#"[1.0, 1, -0.5e+10, "\u0061\n", "a", true, false, null, {}]"#).as_deref(),
            Some(r#"[1.0,1,-0.5e+10,"\u0061\n","a",true,false,null,{}]"#)
        );
    }

    #[test]
    fn duplicate_keys_keep_their_order() {
        assert_eq!(
            canon(r#"{"b":1,"a":2,"b":3}"#).as_deref(),
            Some(r#"{"a":2,"b":1,"b":3}"#)
        );
    }

    #[test]
    fn rejects_what_is_not_one_json_document() {
        for text in [
            "",
            " ",
            "{",
            "{}{}",
            "{} x",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "01",
            "1.",
            "1e",
            "-",
            "tru",
            "\"unterminated",
            "\"bad \\x escape\"",
            "\"\\u12\"",
            "\"tab\there\"",
            "nan",
            "{\"a\" 1}",
            "[1 2]",
        ] {
            assert_eq!(canon(text), None, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(canon(&deep), None);
        let fine = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(canon(&fine), Some(fine.clone()));
    }
}
