//! HTML for the owner's page: escaping and the one layout every page shares. Server
//! rendered, no script; a phone's narrow screen first.

use std::fmt::Write as _;

/// `text` with `& < > " '` escaped, for element text and quoted attributes.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:40rem;padding:0 .8rem 2rem;line-height:1.4}\
nav{display:flex;flex-wrap:wrap;gap:.3rem;padding:.6rem 0;border-bottom:1px solid #ccc}\
nav a,nav button{padding:.5rem .7rem;border-radius:.4rem;background:#eee;color:#000;text-decoration:none;border:0;font:inherit}\
nav a.here{background:#1a5fb4;color:#fff}\
table{border-collapse:collapse;width:100%}td,th{padding:.35rem .3rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.big{font-size:1.8rem;font-weight:600}\
button.act{font-size:1.05rem;padding:.6rem 1rem;border-radius:.4rem;border:0;background:#1a5fb4;color:#fff}\
.ok{background:#e6f4ea;padding:.6rem}.bad{background:#fce8e6;padding:.6rem}\
input,select{font-size:1.1rem;padding:.4rem}small{color:#555}";

/// A whole page: `title`, the navigation with `here` marked (none on the login
/// page, where `csrf` is `None` too), and `body`.
pub(super) fn page(title: &str, here: Option<&str>, csrf: Option<&str>, body: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>{} · hotspot kiosk</title><style>{STYLE}</style></head><body>",
        esc(title)
    );
    if let (Some(here), Some(csrf)) = (here, csrf) {
        out.push_str("<nav>");
        for (href, name) in [
            ("/", "Today"),
            ("/health", "Health"),
            ("/users", "Users"),
            ("/batch", "Print a batch"),
        ] {
            let class = if name == here { " class=here" } else { "" };
            let _ = write!(out, "<a href=\"{href}\"{class}>{name}</a>");
        }
        let _ = write!(
            out,
            "<form method=post action=/logout>{}<button>Log out</button></form></nav>",
            csrf_field(csrf)
        );
    }
    let _ = write!(
        out,
        "<main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// The hidden field every form of a session carries.
pub(super) fn csrf_field(csrf: &str) -> String {
    format!("<input type=hidden name=csrf value=\"{}\">", esc(csrf))
}

/// A form that POSTs to `action` with one button and the given hidden fields.
pub(super) fn button_form(
    action: &str,
    csrf: &str,
    fields: &[(&str, &str)],
    label: &str,
    id: &str,
) -> String {
    let mut out = format!(
        "<form method=post action=\"{}\">{}",
        esc(action),
        csrf_field(csrf)
    );
    for (name, value) in fields {
        let _ = write!(
            out,
            "<input type=hidden name=\"{}\" value=\"{}\">",
            esc(name),
            esc(value)
        );
    }
    let _ = write!(
        out,
        "<button class=act id=\"{}\">{}</button></form>",
        esc(id),
        esc(label)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_router_cannot_become_markup() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        let p = page("a<b", Some("Today"), Some("t\"k"), "");
        assert!(
            p.contains("<h1>a&lt;b</h1>") && p.contains("value=\"t&quot;k\""),
            "{p}"
        );
    }
}
