//! Message content as OpenAI sends it (a string, or text / image_url parts), read into [`Part`]s.

use serde_json::Value;

use crate::compat::error::CompatError;

/// One piece of a message, in the provider-neutral form the dialect writers consume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    Text(&'a str),
    Image(Image<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Image<'a> {
    /// From a `data:{media_type};base64,{data}` URL.
    Inline { media_type: &'a str, data: &'a str },
    /// An http(s) URL the provider fetches itself; the media type is guessed from the extension
    /// because Gemini's `fileData` needs one.
    Remote {
        url: &'a str,
        media_type: &'static str,
    },
}

/// Which part types a message of this role may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allow {
    /// user: text and images.
    TextAndImages,
    /// system, developer, assistant, tool: text only (`refusal` parts of assistant messages
    /// count as text, as they were shown to the user).
    Text,
}

/// Reads `content` (at `param`, e.g. `messages[1].content`). `null` is no parts.
pub(crate) fn parts<'a>(
    content: &'a Value,
    param: &str,
    allow: Allow,
) -> Result<Vec<Part<'a>>, CompatError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![Part::Text(text)]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| part(item, &format!("{param}[{i}]"), allow))
            .collect(),
        _ => Err(CompatError::invalid(
            param,
            format!("{param} must be a string or an array of content parts"),
        )),
    }
}

/// Only the text of `content`, for roles that cannot carry images.
pub(crate) fn texts<'a>(content: &'a Value, param: &str) -> Result<Vec<&'a str>, CompatError> {
    Ok(parts(content, param, Allow::Text)?
        .into_iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(text),
            Part::Image(_) => None,
        })
        .collect())
}

fn part<'a>(item: &'a Value, param: &str, allow: Allow) -> Result<Part<'a>, CompatError> {
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => item
            .get("text")
            .and_then(Value::as_str)
            .map(Part::Text)
            .ok_or_else(|| {
                CompatError::invalid(format!("{param}.text"), "a text part needs a string `text`")
            }),
        "refusal" if allow == Allow::Text => item
            .get("refusal")
            .and_then(Value::as_str)
            .map(Part::Text)
            .ok_or_else(|| {
                CompatError::invalid(
                    format!("{param}.refusal"),
                    "a refusal part needs a string `refusal`",
                )
            }),
        "image_url" if allow == Allow::TextAndImages => {
            // `image_url` is an object `{url, detail}`; a bare string is accepted too (older clients).
            let url = item.get("image_url").and_then(|v| v.get("url").or(Some(v)));
            match url.and_then(Value::as_str) {
                Some(url) => image(url, &format!("{param}.image_url.url")).map(Part::Image),
                None => Err(CompatError::invalid(
                    format!("{param}.image_url.url"),
                    "an image_url part needs a string `image_url.url`",
                )),
            }
        }
        "image_url" => Err(CompatError::invalid(
            format!("{param}.type"),
            "image_url parts are only allowed in user messages",
        )),
        "" => Err(CompatError::invalid(
            format!("{param}.type"),
            "a content part needs a `type`",
        )),
        other => Err(CompatError::unsupported(
            format!("{param}.type"),
            format!("content parts of type `{other}` cannot be translated for this provider"),
        )),
    }
}

/// `data:` URLs become inline base64; http(s) URLs are passed for the provider to fetch.
pub(crate) fn image<'a>(url: &'a str, param: &str) -> Result<Image<'a>, CompatError> {
    if let Some(rest) = strip_prefix_ignore_case(url, "data:") {
        let (header, data) = rest
            .split_once(',')
            .ok_or_else(|| CompatError::invalid(param, "a data URL needs a `,` before its data"))?;
        let mut params = header.split(';');
        let media_type = params.next().unwrap_or("").trim();
        if !params.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
            // Percent-encoded data URLs would need decoding and re-encoding; no client sends
            // images that way.
            return Err(CompatError::invalid(
                param,
                "image data URLs must be base64 (`;base64,`)",
            ));
        }
        if media_type.is_empty() {
            return Err(CompatError::invalid(
                param,
                "an image data URL needs a media type (data:image/png;base64,…)",
            ));
        }
        return Ok(Image::Inline { media_type, data });
    }
    if strip_prefix_ignore_case(url, "https://").is_some()
        || strip_prefix_ignore_case(url, "http://").is_some()
    {
        return Ok(Image::Remote {
            url,
            media_type: guess_media_type(url),
        });
    }
    Err(CompatError::invalid(
        param,
        "image URLs must be http(s) or base64 data URLs",
    ))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// From the URL path's extension; `image/jpeg` when there is none or it is unknown (the most
/// common kind of image on the web, and what providers assume themselves).
pub(crate) fn guess_media_type(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').next().unwrap_or(path);
    let ext = last.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => "image/jpeg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_the_path_extension() {
        assert_eq!(
            guess_media_type("https://x.test/a/b.PNG?v=1#f"),
            "image/png"
        );
        assert_eq!(guess_media_type("https://x.test/a.webp"), "image/webp");
        assert_eq!(guess_media_type("https://x.test/a.gif"), "image/gif");
        assert_eq!(guess_media_type("https://x.test/a.jpg"), "image/jpeg");
        assert_eq!(guess_media_type("https://x.test/photo"), "image/jpeg");
        assert_eq!(
            guess_media_type("https://x.test/dir.png/photo"),
            "image/jpeg"
        );
    }

    #[test]
    fn data_urls_need_base64_and_a_media_type() {
        assert_eq!(
            image("data:image/png;base64,iVBO", "p").unwrap(),
            Image::Inline {
                media_type: "image/png",
                data: "iVBO"
            }
        );
        assert!(image("data:image/png,abc", "p").is_err());
        assert!(image("data:;base64,abc", "p").is_err());
        assert!(image("data:image/png;base64", "p").is_err());
        assert!(image("ftp://x.test/a.png", "p").is_err());
        assert_eq!(
            image("HTTPS://x.test/a.gif", "p").unwrap(),
            Image::Remote {
                url: "HTTPS://x.test/a.gif",
                media_type: "image/gif"
            }
        );
    }
}
