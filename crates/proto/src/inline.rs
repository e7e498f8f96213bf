//! Inline requests (`SET k "a b"` typed into nc or telnet), split as Redis's `sdssplitargs`
//! splits them: whitespace separates arguments, double quotes allow `\n \r \t \b \a \\ \" \xHH`
//! escapes, single quotes allow `\'`, and a closing quote must be followed by whitespace.

use bytes::Bytes;

use crate::decoder::DecodeError;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits `text` (a slice of `line`) into arguments appended to `args`. Unquoted arguments
/// share `line`'s memory; quoted ones are copied because escapes change their bytes.
pub(crate) fn split_inline_args(
    text: &[u8],
    line: &Bytes,
    args: &mut Vec<Bytes>,
) -> Result<(), DecodeError> {
    let base = text.as_ptr() as usize - line.as_ptr() as usize;
    let mut i = 0;
    let before = args.len();
    loop {
        while i < text.len() && is_space(text[i]) {
            i += 1;
        }
        if i >= text.len() {
            return Ok(());
        }
        match text[i] {
            b'"' => {
                let mut arg = Vec::new();
                i += 1;
                loop {
                    let Some(&b) = text.get(i) else {
                        args.truncate(before);
                        return Err(DecodeError::UnbalancedQuotes);
                    };
                    if b == b'\\' && text.get(i + 1) == Some(&b'x') {
                        if let (Some(hi), Some(lo)) = (
                            text.get(i + 2).copied().and_then(hex_value),
                            text.get(i + 3).copied().and_then(hex_value),
                        ) {
                            arg.push(hi * 16 + lo);
                            i += 4;
                            continue;
                        }
                    }
                    if b == b'\\' && i + 1 < text.len() {
                        arg.push(match text[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 2;
                        continue;
                    }
                    if b == b'"' {
                        i += 1;
                        if i < text.len() && !is_space(text[i]) {
                            args.truncate(before);
                            return Err(DecodeError::UnbalancedQuotes);
                        }
                        break;
                    }
                    arg.push(b);
                    i += 1;
                }
                args.push(Bytes::from(arg));
            }
            b'\'' => {
                let mut arg = Vec::new();
                i += 1;
                loop {
                    let Some(&b) = text.get(i) else {
                        args.truncate(before);
                        return Err(DecodeError::UnbalancedQuotes);
                    };
                    if b == b'\\' && text.get(i + 1) == Some(&b'\'') {
                        arg.push(b'\'');
                        i += 2;
                        continue;
                    }
                    if b == b'\'' {
                        i += 1;
                        if i < text.len() && !is_space(text[i]) {
                            args.truncate(before);
                            return Err(DecodeError::UnbalancedQuotes);
                        }
                        break;
                    }
                    arg.push(b);
                    i += 1;
                }
                args.push(Bytes::from(arg));
            }
            _ => {
                let start = i;
                while i < text.len() && !is_space(text[i]) {
                    i += 1;
                }
                args.push(line.slice(base + start..base + i));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Result<Vec<Bytes>, DecodeError> {
        let line = Bytes::copy_from_slice(text.as_bytes());
        let mut args = Vec::new();
        split_inline_args(&line, &line, &mut args).map(|()| args)
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split("set  k   v").unwrap(), vec!["set", "k", "v"]);
        assert_eq!(
            split(r#"set k "a\nb\x41""#).unwrap(),
            vec!["set", "k", "a\nbA"]
        );
        assert_eq!(split(r"set k 'it\'s'").unwrap(), vec!["set", "k", "it's"]);
        assert_eq!(split(r#"echo """#).unwrap(), vec!["echo", ""]);
        assert!(split("").unwrap().is_empty());
    }

    #[test]
    fn rejects_unbalanced_quotes() {
        for bad in [r#"set "k"#, r#"set "k"x"#, "set 'k", "set 'k'x"] {
            assert_eq!(split(bad), Err(DecodeError::UnbalancedQuotes), "{bad}");
        }
    }
}
