//! A report as a list of blocks (headings, paragraphs, tables, figures),
//! rendered twice: as Markdown (figures as SVG files beside it) and as one
//! self-contained HTML page (figures inline as SVG, styles inline, no
//! external resources).

/// One piece of a report.
#[derive(Clone, Debug)]
pub enum Block {
    /// A heading of level 1-3.
    Heading(u8, String),
    /// A paragraph of plain text.
    Para(String),
    /// A bulleted list of plain-text items.
    List(Vec<String>),
    /// A table: header cells and rows of cells (plain text).
    Table(Vec<String>, Vec<Vec<String>>),
    /// A figure: caption, SVG text, and the file name (in the report
    /// folder) the Markdown links to.
    Figure {
        /// Caption.
        caption: String,
        /// The SVG document.
        svg: String,
        /// File name, e.g. `sweep-lq.svg`.
        file: String,
    },
}

/// A report being built.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// Its blocks, in order.
    pub blocks: Vec<Block>,
}

impl Doc {
    /// Add a heading.
    pub fn h(&mut self, level: u8, text: impl Into<String>) {
        self.blocks.push(Block::Heading(level, text.into()));
    }

    /// Add a paragraph.
    pub fn p(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Para(text.into()));
    }

    /// Add a bulleted list.
    pub fn list(&mut self, items: Vec<String>) {
        self.blocks.push(Block::List(items));
    }

    /// Add a table.
    pub fn table(&mut self, header: Vec<String>, rows: Vec<Vec<String>>) {
        self.blocks.push(Block::Table(header, rows));
    }

    /// Add a figure.
    pub fn figure(&mut self, caption: impl Into<String>, svg: String, file: impl Into<String>) {
        self.blocks.push(Block::Figure {
            caption: caption.into(),
            svg,
            file: file.into(),
        });
    }

    /// The figures: (file name, SVG).
    pub fn figures(&self) -> Vec<(&str, &str)> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Figure { svg, file, .. } => Some((file.as_str(), svg.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Markdown; figures link to `fig_dir/<file>`.
    pub fn markdown(&self, fig_dir: &str) -> String {
        let cell = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => {
                    out += &format!("{} {t}\n\n", "#".repeat(*l as usize));
                }
                Block::Para(t) => out += &format!("{t}\n\n"),
                Block::List(items) => {
                    for i in items {
                        out += &format!("- {i}\n");
                    }
                    out.push('\n');
                }
                Block::Table(h, rows) => {
                    let hs: Vec<String> = h.iter().map(|c| cell(c)).collect();
                    out += &format!("| {} |\n|{}\n", hs.join(" | "), "---|".repeat(h.len()));
                    for r in rows {
                        let rs: Vec<String> = r.iter().map(|c| cell(c)).collect();
                        out += &format!("| {} |\n", rs.join(" | "));
                    }
                    out.push('\n');
                }
                Block::Figure { caption, file, .. } => {
                    out += &format!("![{caption}]({fig_dir}/{file})\n\n*{caption}*\n\n");
                }
            }
        }
        out
    }

    /// One self-contained HTML page titled `title`.
    pub fn html(&self, title: &str) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
            esc(title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => {
                    out += &format!("<h{l} id=\"{}\">{}</h{l}>\n", slug(t), esc(t))
                }
                Block::Para(t) => out += &format!("<p>{}</p>\n", esc(t)),
                Block::List(items) => {
                    out += "<ul>\n";
                    for i in items {
                        out += &format!("<li>{}</li>\n", esc(i));
                    }
                    out += "</ul>\n";
                }
                Block::Table(h, rows) => {
                    out += "<table>\n<thead><tr>";
                    for c in h {
                        out += &format!("<th>{}</th>", esc(c));
                    }
                    out += "</tr></thead>\n<tbody>\n";
                    for r in rows {
                        out += "<tr>";
                        for c in r {
                            out += &format!("<td>{}</td>", esc(c));
                        }
                        out += "</tr>\n";
                    }
                    out += "</tbody>\n</table>\n";
                }
                Block::Figure { caption, svg, file } => {
                    out += &format!(
                        "<figure class=\"figure\" data-file=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                        esc(file),
                        strip_prolog(svg),
                        esc(caption)
                    );
                }
            }
        }
        out += CHECK_SCRIPT;
        out += "</body>\n</html>\n";
        out
    }
}

const STYLE: &str = "body { font-family: sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead { background: #eee; }
figure { margin: 1em 0 2em; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-style: italic; color: #555; }
";

/// Marks on `<body>` how many figures the page has and how many a browser
/// drew with a non-empty box (`data-figures`, `data-figures-rendered`), so
/// a headless browser's DOM dump tells whether every figure rendered.
const CHECK_SCRIPT: &str = "<script>
window.addEventListener('load', function () {
  var figs = document.querySelectorAll('figure.figure svg');
  var ok = 0;
  figs.forEach(function (s) {
    var b = s.getBBox(), r = s.getBoundingClientRect();
    if (b.width > 0 && b.height > 0 && r.width > 0 && r.height > 0) { ok++; }
  });
  document.body.setAttribute('data-figures', String(figs.length));
  document.body.setAttribute('data-figures-rendered', String(ok));
});
</script>
";

/// A heading's anchor: lower-case letters and digits, the rest as `-`
/// (`Findings on fashion-mnist` -> `findings-on-fashion-mnist`).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// HTML-escape text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG document without its XML declaration, to inline in HTML.
fn strip_prolog(svg: &str) -> &str {
    let s = svg.trim_start();
    if s.starts_with("<?xml")
        && let Some(i) = s.find("?>")
    {
        return s[i + 2..].trim_start();
    }
    s
}
