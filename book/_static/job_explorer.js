/* The careers chapter's job explorer (book/_ext/job_explorer.py): search an occupation title in English or
 * Chinese and see its exposure ratings, where it stands among the workers of rated occupations, its employment and wage and its
 * tasks with their labels. Data: window.AIGC_JOBS from _static/job-explorer-data.js, written at build time
 * by aigc_lessons.careers.explorer. The search follows keyword_search() there rule for rule. */
(function () {
  "use strict";

  var STOP = new Set(("a an and the of in on at for to with by or i my me am is are as all other except " +
                      "work job").split(" "));
  var SYMBOL = { alpha: "\u03b1", beta: "\u03b2", gamma: "\u03b3" };  // the paper writes zeta for gamma; the book, gamma
  var EXAMPLES = ["registered nurse", "software developer", "\u5f8b\u5e08", "\u5361\u8f66\u53f8\u673a", "29-1141"];

  // The explorer's own words in each edition (the page's lang: en, or zh-CN for the Chinese edition; the file is
  // UTF-8, as the pages are). The data stay as published: O*NET and OEWS titles and tasks are English in both.
  var TEXT = {
    en: {
      placeholder: "Job title, e.g. registered nurse, \u5f8b\u5e08, 15-1252",
      searchLabel: "Search an occupation title in English or Chinese",
      tryThese: "Try: ",
      noMatch: "No occupation title matches. Try a shorter title or one word (nurse, teacher, \u53f8\u673a).",
      oneMatch: "1 matching title.",
      manyMatches: function (n) { return n + " matching titles, best first; showing the first. Click another to see it."; },
      employment: "Employment (OEWS, May 2021): ",
      workersIn: function (title, code, shared) { return " workers in " + title + " (" + code + ")" + shared + ". Median annual wage: "; },
      sharedCode: function (n) { return " (an OEWS code shared by " + n + " O*NET occupations; their ratings are averaged there)"; },
      end: ".",
      noEmployment: "No OEWS May 2021 employment row matches this occupation, so it is not counted among the workers below.",
      exposureHeader: ["Measure", "Human raters", "GPT-4", "Workers in less exposed occupations", "Workers in rated occupations (human ratings)"],
      taskHeader: ["Task (O*NET)", "Type", "Human label", "GPT-4 label"],
      tasks: function (n) { return n + " tasks. E0: no exposure; E1: the model alone would cut the time the task takes by at least half; E2: only software built on top of the model would."; },
      noWage: "not published by OEWS",
      topCoded: function (s) { return "at least " + s + " (OEWS top-codes wages at this level)"; },
      hourly: function (s) { return s + " (hourly median \u00d7 2,080 hours)"; },
      histogram: function (label, r) { return "Share of the workers in rated occupations by " + label + " rating, 0 to 1 in 20 bins; the marker is this occupation at " + r; },
      noData: "The explorer's data (_static/job-explorer-data.js) did not load."
    },
    zh: {
      placeholder: "职业名称，例如 registered nurse、律师、15-1252",
      searchLabel: "用英文或中文搜索职业名称",
      tryThese: "试试：",
      noMatch: "没有匹配的职业名称。请换一个更短的名称或一个词（nurse、teacher、司机）。",
      oneMatch: "1 个匹配的名称。",
      manyMatches: function (n) { return n + " 个匹配的名称，最佳匹配在前；下方显示第一个，点击其他名称可查看。"; },
      employment: "就业人数（OEWS，2021 年 5 月）：",
      workersIn: function (title, code, shared) { return " 名工作者，属于 " + title + "（" + code + "）" + shared + "。年工资中位数："; },
      sharedCode: function (n) { return "（这个 OEWS 代码由 " + n + " 个 O*NET 职业共用，它们的评分在那里取平均）"; },
      end: "。",
      noEmployment: "OEWS 2021 年 5 月的就业数据中没有与这个职业对应的行，所以它不计入下面的工作者中。",
      exposureHeader: ["指标", "人类评分者", "GPT-4", "暴露程度更低的职业中的工作者", "有评分职业中的工作者（人类评分）"],
      taskHeader: ["任务（O*NET）", "类型", "人类标签", "GPT-4 标签"],
      tasks: function (n) { return n + " 项任务。E0：无暴露；E1：仅靠模型本身就能把完成该任务所需的时间至少减半；E2：只有在模型之上构建的软件才能做到。"; },
      noWage: "OEWS 未公布",
      topCoded: function (s) { return "至少 " + s + "（OEWS 对这一水平的工资做了顶端编码）"; },
      hourly: function (s) { return s + "（小时工资中位数 \u00d7 2,080 小时）"; },
      histogram: function (label, r) { return "有评分职业中的工作者按 " + label + " 评分的分布，0 到 1 分为 20 组；标记线是这个职业，位于 " + r; },
      noData: "职业浏览器的数据（_static/job-explorer-data.js）没有加载。"
    }
  };
  var T = TEXT.en;
  function useLanguage(lang) { T = /^zh/i.test(lang || "") ? TEXT.zh : TEXT.en; }

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
    svg.setAttribute("aria-label", T.histogram(label, rating.toFixed(2)));
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
    if (o.wage == null) return T.noWage;
    var s = "$" + num(o.wage);
    if (o.wage_source === "top-coded") return T.topCoded(s);
    if (o.wage_source === "hourly x 2080") return T.hourly(s);
    return s;
  }

  function details(o, data) {
    var box = el("div", { "class": "job-explorer-details" });
    box.appendChild(el("h3", {}, [el("span", { "data-field": "title" }, [o.title]), " ",
                                  el("span", { "class": "code", "data-field": "code" }, ["(" + o.code + ")"])]));
    if (o.employment != null) {
      var shared = o.n_onet > 1 ? T.sharedCode(o.n_onet) : "";
      box.appendChild(el("p", {}, [
        T.employment, el("strong", { "data-field": "employment" }, [num(o.employment)]),
        T.workersIn(o.oews_title, o.oews_code, shared),
        el("strong", { "data-field": "wage" }, [wageText(o)]), T.end]));
    } else {
      box.appendChild(el("p", { "data-field": "employment" }, [T.noEmployment]));
    }
    var table = el("table", { "class": "job-explorer-exposure" });
    table.appendChild(el("thead", {}, [el("tr", {}, T.exposureHeader.map(function (h) { return el("th", {}, [h]); }))]));
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
    tasks.appendChild(el("thead", {}, [el("tr", {}, T.taskHeader.map(function (h) { return el("th", {}, [h]); }))]));
    var tb = el("tbody");
    o.tasks.forEach(function (t) {
      tb.appendChild(el("tr", {}, t.map(function (c) { return el("td", {}, [c]); })));
    });
    tasks.appendChild(tb);
    box.appendChild(el("p", {}, [T.tasks(o.tasks.length)]));
    box.appendChild(tasks);
    return box;
  }

  function start(root, data) {
    // everything but the text for paper (job_explorer.css shows that one when the page is printed)
    Array.prototype.slice.call(root.childNodes).forEach(function (c) {
      if (!(c.classList && c.classList.contains("job-explorer-static"))) root.removeChild(c);
    });
    root.classList.add("job-explorer-live");
    var input = el("input", { type: "search", placeholder: T.placeholder, "aria-label": T.searchLabel,
                              "class": "job-explorer-input" });
    var examples = el("p", { "class": "job-explorer-examples" }, [T.tryThese]);
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
        status.textContent = T.noMatch;
        return;
      }
      status.textContent = hits.length === 1 ? T.oneMatch : T.manyMatches(hits.length);
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
    module.exports = { search: search, queryTokens: queryTokens, TEXT: TEXT };
    return;
  }
  ready(function () {
    var root = document.getElementById("job-explorer");
    if (!root) return;
    useLanguage(document.documentElement.lang);
    if (!window.AIGC_JOBS) {
      root.appendChild(el("p", { "class": "job-explorer-status" }, [T.noData]));
      return;
    }
    start(root, window.AIGC_JOBS);
  });
})();
