//! Bounded, incremental line splitting over byte chunks (LF, CR or CRLF; leading BOM removed).

/// One line as the splitter hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line without its terminator.
    Text(&'a [u8]),
    /// The line was longer than the limit; its bytes were dropped as they arrived.
    TooLong,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Buffers that grew past this for one big line or event are freed rather than kept for the
/// rest of a long stream.
pub const KEEP_CAPACITY: usize = 64 * 1024;

/// Splits a byte stream into lines whatever the chunk boundaries, never holding more than
/// `max_line` bytes: a longer line is reported as [`Line::TooLong`] once its end is seen.
#[derive(Debug)]
pub struct LineSplitter {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    max_line: usize,
    /// The current line is over the limit: skip to its end.
    overflowed: bool,
    /// The last chunk ended on CR, so a LF opening the next one ends nothing.
    after_cr: bool,
    /// No line has been handed out yet: the BOM, if any, is still ahead.
    at_start: bool,
}

impl LineSplitter {
    pub fn new(max_line: usize) -> LineSplitter {
        LineSplitter {
            partial: Vec::new(),
            max_line,
            overflowed: false,
            after_cr: false,
            at_start: true,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8], mut on_line: impl FnMut(Line<'_>)) {
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        // Only the new bytes are scanned: a long line costs one pass however it is chunked.
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = chunk.split_at(end);
            self.emit(head, &mut on_line);
            let (terminator, rest) = tail.split_at(1);
            chunk = rest;
            if terminator == b"\r" {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        if chunk.is_empty() || self.overflowed {
            return;
        }
        if self.partial.len() + chunk.len() > self.max_line {
            self.overflow();
        } else {
            self.partial.extend_from_slice(chunk);
        }
    }

    /// Hands out a last line that had no terminator, and starts over.
    pub fn finish(&mut self, mut on_line: impl FnMut(Line<'_>)) {
        if self.overflowed || !self.partial.is_empty() {
            self.emit(&[], &mut on_line);
        }
        *self = LineSplitter::new(self.max_line);
    }

    /// Memory held for a partial line.
    pub fn buffered_bytes(&self) -> usize {
        self.partial.capacity()
    }

    fn emit(&mut self, head: &[u8], on_line: &mut impl FnMut(Line<'_>)) {
        let first = std::mem::replace(&mut self.at_start, false);
        if self.overflowed || self.partial.len() + head.len() > self.max_line {
            self.overflowed = false;
            self.partial.clear();
            on_line(Line::TooLong);
            return;
        }
        let line = if self.partial.is_empty() {
            head
        } else {
            self.partial.extend_from_slice(head);
            &self.partial
        };
        let line = match line.strip_prefix(BOM) {
            Some(rest) if first => rest,
            _ => line,
        };
        on_line(Line::Text(line));
        self.partial.clear();
        if self.partial.capacity() > KEEP_CAPACITY {
            self.partial = Vec::new();
        }
    }

    fn overflow(&mut self) {
        self.overflowed = true;
        // Give the memory back: an oversize line must not leave a large buffer behind.
        self.partial = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut splitter = LineSplitter::new(max);
        let mut lines = Vec::new();
        let mut collect = |line: Line<'_>| {
            lines.push(match line {
                Line::Text(text) => Some(text.to_vec()),
                Line::TooLong => None,
            })
        };
        for chunk in chunks {
            splitter.push(chunk, &mut collect);
        }
        splitter.finish(&mut collect);
        lines
    }

    #[test]
    fn every_terminator_and_split_gives_the_same_lines() {
        let input: &[u8] = b"\xEF\xBB\xBFa\r\nbb\rccc\n\r\n\ndd";
        let whole = split_all(&[input], 64);
        let expected: Vec<Option<Vec<u8>>> = ["a", "bb", "ccc", "", "", "dd"]
            .iter()
            .map(|s| Some(s.as_bytes().to_vec()))
            .collect();
        assert_eq!(whole, expected);
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(split_all(&[a, b], 64), expected, "split at {at}");
        }
    }

    #[test]
    fn a_long_line_is_reported_once_and_the_next_one_is_intact() {
        let input = b"0123456789\nok\n";
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(
                split_all(&[a, b], 5),
                vec![None, Some(b"ok".to_vec())],
                "split at {at}"
            );
        }
    }

    #[test]
    fn a_bom_is_only_removed_from_the_first_line() {
        assert_eq!(
            split_all(&[b"x\n\xEF\xBB\xBFy\n"], 64),
            vec![Some(b"x".to_vec()), Some(b"\xEF\xBB\xBFy".to_vec())]
        );
    }
}
