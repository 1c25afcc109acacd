// Render every formula of Markdown files with two real LaTeX-math engines, KaTeX and
// MathJax 3 (the engine GitHub and Jupyter use; only its base and ams packages), reading
// the files as GitHub-style Markdown math: a $$ line opens and a $$ line closes a display
// block, $...$ on other lines is inline.  Prints one JSON object, the counts and every
// error; exit status 1 when any formula fails in either engine.
"use strict";
const fs = require("fs");
const katex = require("katex");
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { STATE } = require("mathjax-full/js/core/MathItem.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
require("mathjax-full/js/input/tex/base/BaseConfiguration.js");
require("mathjax-full/js/input/tex/ams/AmsConfiguration.js");

RegisterHTMLHandler(liteAdaptor());
const tex = new TeX({
  packages: ["base", "ams"],
  formatError: (jax, err) => { throw err; },
});
// Parsing into MathML is where a formula fails; laying it out as SVG would only cost time.
const page = mathjax.document("", { InputJax: tex });

const engines = {
  katex: (f) => katex.renderToString(f.tex, { displayMode: f.display, throwOnError: true, strict: "error" }),
  mathjax: (f) => page.convert(f.tex, { display: f.display, end: STATE.CONVERT }),
};

function formulas(text) {
  const found = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "$$") {
      const start = i + 1;
      let j = start;
      while (j < lines.length && lines[j].trim() !== "$$") j++;
      if (j === lines.length) {
        found.push({ line: i + 1, display: true, tex: null });
        break;
      }
      found.push({ line: start, display: true, tex: lines.slice(start, j).join("\n") });
      i = j;
      continue;
    }
    if (lines[i].startsWith("$$") && lines[i].trim().endsWith("$$") && lines[i].trim().length > 4) {
      found.push({ line: i + 1, display: true, tex: lines[i].trim().slice(2, -2) });
      continue;
    }
    const inline = /(?<!\\)\$([^$]+?)\$/g;
    let m;
    while ((m = inline.exec(lines[i])) !== null) {
      found.push({ line: i + 1, display: false, tex: m[1] });
    }
  }
  return found;
}

const report = { files: 0, display: 0, inline: 0, errors: [] };
for (const path of process.argv.slice(2)) {
  report.files += 1;
  for (const f of formulas(fs.readFileSync(path, "utf8"))) {
    if (f.tex === null) {
      report.errors.push(`${path}:${f.line}: a $$ block is never closed`);
      continue;
    }
    report[f.display ? "display" : "inline"] += 1;
    for (const [name, render] of Object.entries(engines)) {
      try {
        render(f);
      } catch (err) {
        report.errors.push(`${path}:${f.line}: ${name}: ${String(err.message).split("\n")[0]}`);
      }
    }
  }
}
console.log(JSON.stringify(report));
process.exit(report.errors.length ? 1 : 0);
