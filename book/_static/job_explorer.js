/* The careers chapter's job explorer (book/_ext/job_explorer.py): search an occupation title in English or
 * Chinese and see its exposure ratings, where it stands among all US workers, its employment and wage and its
 * tasks with their labels. Data: window.AIGC_JOBS from _static/job-explorer-data.js, written at build time
 * by aigc_lessons.careers.explorer. The search follows keyword_search() there rule for rule. */
(function () {
  "use strict";

  var STOP = new Set(("a an and the of in on at for to with by or i my me am is are as all other except " +
                      "work job").split(" "));
  var SYMBOL = { alpha: "\u03b1", beta: "\u03b2", gamma: "\u03b6" };  // the paper writes zeta for gamma
  var EXAMPLES = ["registered nurse", "software developer", "\u5f8b\u5e08", "\u5361\u8f66\u53f8\u673a", "29-1141"];

  function stem(w) { return (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) ? w.slice(0, -1) : w; }
  function words(text) { return text.match(/[a-z0-9]+/g) || []; }

  function queryTokens(query, glossary) {
    var text = query.toLowerCase();
    Object.keys(glossary).sort(function (a, b) { return b.length - a.length; }).forEach(function (term) {
      text = text.split(term).join(" " + glossary[term] + " ");
    });
    var seen = [];
    words(text).forEach(function (w) {
      var s = stem(w);
      if (!STOP.has(w) && seen.indexOf(s) < 0) seen.push(s);
    });
    return seen;
  }

  function search(query, data, k) {
    var q = query.trim(), occs = data.occupations;
    if (/^\d{2}-\d{0,4}(\.\d{0,2})?$/.test(q)) {
      return occs.map(function (o, i) { return i; }).filter(function (i) { return occs[i].code.indexOf(q) === 0; }).slice(0, k);
    }
    var ws = queryTokens(q, data.glossary);
    if (!ws.length) return [];
    var scored = [];
    occs.forEach(function (o, i) {
      var matched = 0;
      ws.forEach(function (w) { if (o.tokens.some(function (t) { return t.indexOf(w) === 0; })) matched += 1; });
      if (matched) scored.push([matched, o.tokens.length, o.employment || 0, o.code, i]);
    });
    scored.sort(function (a, b) {
      return (b[0] - a[0]) || (a[1] - b[1]) || (b[2] - a[2]) || (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0);
    });
    return scored.slice(0, k).map(function (s) { return s[4]; });
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function pct(x) { return (100 * x).toFixed(1) + "%"; }
  function num(x) { return x.toLocaleString("en-US"); }

  // An employment-weighted histogram of one measure with the occupation's rating marked.
  function histogram(shares, rating, label) {
    var ns = "http://www.w3.org/2000/svg", w = 220, h = 70, pad = 14, n = shares.length;
    var top = Math.max.apply(null, shares), bw = (w - 2 * pad) / n;
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + (h + 16));
    svg.setAttribute("class", "job-explorer-hist");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Share of US workers by " + label + " rating, 0 to 1 in 20 bins; the marker is this occupation at " + rating.toFixed(2));
    function add(tag, a, text) {
      var e = document.createElementNS(ns, tag);
      Object.keys(a).forEach(function (k) { e.setAttribute(k, a[k]); });
      if (text) e.textContent = text;
      svg.appendChild(e);
      return e;
    }
    shares.forEach(function (s, i) {
      var bh = top > 0 ? (h - 4) * s / top : 0;
      add("rect", { x: pad + i * bw + 0.5, y: h - bh, width: bw - 1, height: bh, "class": "bar" });
    });
    add("line", { x1: pad, x2: w - pad, y1: h, y2: h, "class": "axis" });
    var mx = pad + rating * (w - 2 * pad);
    add("line", { x1: mx, x2: mx, y1: 0, y2: h, "class": "marker" });
    [["0", pad], ["0.5", w / 2], ["1", w - pad]].forEach(function (t) {
      add("text", { x: t[1], y: h + 13, "text-anchor": "middle" }, t[0]);
    });
    return svg;
  }

  function wageText(o) {
    if (o.wage == null) return "not published by OEWS";
    var s = "$" + num(o.wage);
    if (o.wage_source === "top-coded") return "at least " + s + " (OEWS top-codes wages at this level)";
    if (o.wage_source === "hourly x 2080") return s + " (hourly median \u00d7 2,080 hours)";
    return s;
  }

  function details(o, data) {
    var box = el("div", { "class": "job-explorer-details" });
    box.appendChild(el("h3", {}, [el("span", { "data-field": "title" }, [o.title]), " ",
                                  el("span", { "class": "code", "data-field": "code" }, ["(" + o.code + ")"])]));
    if (o.employment != null) {
      var shared = o.n_onet > 1 ? " (an OEWS code shared by " + o.n_onet + " O*NET occupations; their ratings are averaged there)" : "";
      box.appendChild(el("p", {}, [
        "Employment (OEWS, May 2021): ", el("strong", { "data-field": "employment" }, [num(o.employment)]),
        " workers in " + o.oews_title + " (" + o.oews_code + ")" + shared + ". Median annual wage: ",
        el("strong", { "data-field": "wage" }, [wageText(o)]), "."]));
    } else {
      box.appendChild(el("p", { "data-field": "employment" }, ["No OEWS May 2021 employment row matches this occupation, so it is not counted among the workers below."]));
    }
    var table = el("table", { "class": "job-explorer-exposure" });
    table.appendChild(el("thead", {}, [el("tr", {}, [el("th", {}, ["Measure"]), el("th", {}, ["Human raters"]),
      el("th", {}, ["GPT-4"]), el("th", {}, ["Workers in less exposed occupations"]), el("th", {}, ["All workers (human ratings)"])])]));
    var body = el("tbody");
    data.measures.forEach(function (m, j) {
      body.appendChild(el("tr", {}, [
        el("td", {}, [SYMBOL[m] + " (" + m + ")"]),
        el("td", { "data-field": "human-" + m }, [pct(o.human[j])]),
        el("td", { "data-field": "gpt4-" + m }, [pct(o.gpt4[j])]),
        el("td", { "data-field": "percentile-" + m }, [pct(o.percentile[j])]),
        el("td", {}, [histogram(data.histogram[m], o.human[j], SYMBOL[m])])]));
    });
    table.appendChild(body);
    box.appendChild(table);
    var tasks = el("table", { "class": "job-explorer-tasks", "data-field": "tasks" });
    tasks.appendChild(el("thead", {}, [el("tr", {}, [el("th", {}, ["Task (O*NET)"]), el("th", {}, ["Type"]),
      el("th", {}, ["Human label"]), el("th", {}, ["GPT-4 label"])])]));
    var tb = el("tbody");
    o.tasks.forEach(function (t) {
      tb.appendChild(el("tr", {}, t.map(function (c) { return el("td", {}, [c]); })));
    });
    tasks.appendChild(tb);
    box.appendChild(el("p", {}, [o.tasks.length + " tasks. E0: no exposure; E1: the model alone would cut the time the task takes by at least half; E2: only software built on top of the model would."]));
    box.appendChild(tasks);
    return box;
  }

  function start(root, data) {
    root.innerHTML = "";
    root.classList.add("job-explorer-live");
    var input = el("input", { type: "search", placeholder: "Job title, e.g. registered nurse, \u5f8b\u5e08, 15-1252",
                              "aria-label": "Search an occupation title in English or Chinese", "class": "job-explorer-input" });
    var examples = el("p", { "class": "job-explorer-examples" }, ["Try: "]);
    var status = el("p", { "class": "job-explorer-status", "aria-live": "polite" });
    var list = el("ol", { "class": "job-explorer-results" });
    var view = el("div", { "class": "job-explorer-view" });
    function show(i) { view.innerHTML = ""; view.appendChild(details(data.occupations[i], data)); }
    function run() {
      var hits = search(input.value, data, 8);
      list.innerHTML = "";
      view.innerHTML = "";
      if (!input.value.trim()) { status.textContent = ""; return; }
      if (!hits.length) {
        status.textContent = "No occupation title matches. Try a shorter title or one word (nurse, teacher, \u53f8\u673a).";
        return;
      }
      status.textContent = hits.length === 1 ? "1 matching title." :
        hits.length + " matching titles, best first; showing the first. Click another to see it.";
      hits.forEach(function (i) {
        var b = el("button", { type: "button" }, [data.occupations[i].title + " (" + data.occupations[i].code + ")"]);
        b.addEventListener("click", function () { show(i); });
        list.appendChild(el("li", {}, [b]));
      });
      show(hits[0]);
    }
    EXAMPLES.forEach(function (q, i) {
      var b = el("button", { type: "button", "class": "job-explorer-example" }, [q]);
      b.addEventListener("click", function () { input.value = q; run(); });
      examples.appendChild(b);
      if (i < EXAMPLES.length - 1) examples.appendChild(document.createTextNode(" "));
    });
    input.addEventListener("input", run);
    root.appendChild(input);
    root.appendChild(examples);
    root.appendChild(status);
    root.appendChild(list);
    root.appendChild(view);
  }

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  if (typeof module !== "undefined" && module.exports) {  // node, for the tests: the search rules only
    module.exports = { search: search, queryTokens: queryTokens };
    return;
  }
  ready(function () {
    var root = document.getElementById("job-explorer");
    if (!root) return;
    if (!window.AIGC_JOBS) {
      root.appendChild(el("p", { "class": "job-explorer-status" }, ["The explorer's data (_static/job-explorer-data.js) did not load."]));
      return;
    }
    start(root, window.AIGC_JOBS);
  });
})();
