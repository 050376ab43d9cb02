// The live view of a running drill: the state arrives whole on connect, then
// as changes (server-sent events). Charts are SVG drawn here; no other
// origin is ever contacted (the page's CSP allows only its own server).
"use strict";
(function () {
  var st = null, dirty = false;
  var palette = ["#0969da", "#bc4c00", "#1a7f37", "#8250df", "#bf3989", "#57606a"];
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function color(region) {
    var i = st.regions.indexOf(region);
    return palette[(i < 0 ? st.regions.length : i) % palette.length];
  }
  function now() { return st.ticks.length ? st.ticks[st.ticks.length - 1].t : 0; }

  var es = new EventSource("/events");
  es.onopen = function () { $("conn").textContent = "live"; $("conn").className = "conn live"; };
  es.onerror = function () {
    if (st && st.final) { es.close(); $("conn").textContent = "drill over"; $("conn").className = "conn"; return; }
    $("conn").textContent = "reconnecting…"; $("conn").className = "conn lost";
  };
  es.addEventListener("state", function (e) { st = JSON.parse(e.data); changed(); });
  es.addEventListener("tick", function (e) { if (st) { st.ticks.push(JSON.parse(e.data)); changed(); } });
  es.addEventListener("action", function (e) { if (st) { st.actions.push(JSON.parse(e.data)); changed(); } });
  es.addEventListener("step", function (e) {
    if (!st) return;
    var s = JSON.parse(e.data), i;
    for (i = st.steps.length - 1; i >= 0; i--) {
      var o = st.steps[i];
      if (o.name === s.name && o.drill === s.drill && o.start_t === s.start_t) { st.steps[i] = s; changed(); return; }
    }
    st.steps.push(s); changed();
  });
  es.addEventListener("cutover", function (e) {
    if (!st) return;
    var c = JSON.parse(e.data), n = st.cutovers.length;
    if (n && st.cutovers[n - 1].start_t === c.start_t) st.cutovers[n - 1] = c; else st.cutovers.push(c);
    changed();
  });
  es.addEventListener("final", function (e) { if (st) { st.final = JSON.parse(e.data); changed(); } });

  function changed() { if (!dirty) { dirty = true; setTimeout(render, 50); } }

  function render() {
    dirty = false;
    if (!st) return;
    $("title").textContent = (st.drills.length ? "drill " + st.drills.join("") + " · " : "") + (st.target || "") + (st.title ? " · " + st.title : "");
    $("elapsed").textContent = "T+" + now().toFixed(0) + " s";
    var open = null, i;
    for (i = st.steps.length - 1; i >= 0; i--) if (st.steps[i].end_t === null) { open = st.steps[i]; break; }
    var last = st.steps[st.steps.length - 1];
    $("step").textContent = open ? "drill " + open.drill + " · " + open.name : (last ? "drill " + last.drill + " · " + last.name + " (" + (last.outcome || "done") + ")" : "waiting for the drill to start");
    renderCutover();
    renderKPIs();
    drawAll();
    renderLists();
    renderFinal();
  }

  function renderCutover() {
    var c = st.cutovers[st.cutovers.length - 1];
    if (!c) { $("cutover").textContent = "—"; return; }
    if (c.end_t === null && st.final) $("cutover").textContent = "not reached in " + (now() - c.start_t).toFixed(0) + " s";
    else if (c.end_t === null) $("cutover").textContent = Math.max(0, now() - c.start_t).toFixed(0) + " s running (" + c.region + ")";
    else $("cutover").textContent = (c.end_t - c.start_t).toFixed(1) + " s (drill " + c.drill + ")";
  }

  function renderKPIs() {
    var t = st.ticks[st.ticks.length - 1];
    if (!t) return;
    $("rps").textContent = t.rps.toFixed(1);
    $("err").textContent = t.err_pct.toFixed(1) + " %";
    $("p95").textContent = t.p95_ms.toFixed(0) + " ms";
    var total = 0, parts = [], r;
    for (r in t.by_region) total += t.by_region[r];
    st.regions.forEach(function (r) {
      var v = t.by_region[r] || 0;
      parts.push(r + " " + (total ? Math.round(100 * v / total) : 0) + " %");
    });
    $("share").textContent = parts.join(" · ");
    var b = 0;
    for (r in t.backlog) b += t.backlog[r];
    $("backlog").textContent = String(b);
  }

  // chart draws series [{name, color, points: [[t, v]...]}] with the steps,
  // actions and cutover spans behind them.
  function chart(id, series, opts) {
    var W = 560, H = 190, L = 44, R = 8, T = 16, B = 22, pw = W - L - R, ph = H - T - B;
    var tmax = Math.max(10, now()), vmax = opts.min || 1, k, p;
    series.forEach(function (s) { s.points.forEach(function (p) { vmax = Math.max(vmax, p[p.length - 1]); }); });
    vmax *= 1.1;
    var x = function (t) { return L + pw * t / tmax; }, y = function (v) { return T + ph * (1 - v / vmax); };
    var out = ['<svg viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + esc(opts.label) + '">'];
    st.steps.forEach(function (s, i) {
      var end = s.end_t === null ? now() : s.end_t;
      out.push('<rect class="band' + (i % 2 ? " odd" : "") + (s.outcome === "failed" ? " failed" : "") + '" x="' + x(s.start_t).toFixed(1) + '" y="' + T + '" width="' + Math.max(0, x(end) - x(s.start_t)).toFixed(1) + '" height="' + ph + '"><title>' + esc("drill " + s.drill + " " + s.name) + "</title></rect>");
      out.push('<text class="steplabel" x="' + (x(s.start_t) + 2).toFixed(1) + '" y="' + (T - 4) + '">' + esc(s.name.split(" ")[0]) + "</text>");
    });
    st.cutovers.forEach(function (c) {
      var end = c.end_t === null ? now() : c.end_t;
      out.push('<rect class="cut" x="' + x(c.start_t).toFixed(1) + '" y="' + T + '" width="' + Math.max(1, x(end) - x(c.start_t)).toFixed(1) + '" height="' + ph + '"/>');
    });
    for (k = 0; k <= 4; k++) {
      var v = vmax * k / 4;
      out.push('<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(v).toFixed(1) + '" y2="' + y(v).toFixed(1) + '"/>');
      out.push('<text class="axis" x="' + (L - 4) + '" y="' + (y(v) + 3).toFixed(1) + '" text-anchor="end">' + (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + "</text>");
    }
    for (k = 0; k <= 5; k++) {
      var tt = tmax * k / 5;
      out.push('<text class="axis" x="' + x(tt).toFixed(1) + '" y="' + (H - 6) + '" text-anchor="middle">' + tt.toFixed(0) + " s</text>");
    }
    st.actions.forEach(function (a) {
      out.push('<line class="action" x1="' + x(a.t).toFixed(1) + '" x2="' + x(a.t).toFixed(1) + '" y1="' + T + '" y2="' + (T + ph) + '"><title>' + esc(a.label) + "</title></line>");
    });
    series.forEach(function (s) {
      if (opts.area) {
        var d = "";
        s.points.forEach(function (p, i) { d += (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[2]).toFixed(1) + " "; });
        for (p = s.points.length - 1; p >= 0; p--) d += "L" + x(s.points[p][0]).toFixed(1) + " " + y(s.points[p][1]).toFixed(1) + " ";
        if (s.points.length) out.push('<path d="' + d + 'Z" fill="' + s.color + '" fill-opacity="0.55" class="series" data-name="' + esc(s.name) + '"/>');
        return;
      }
      var d2 = "";
      s.points.forEach(function (p, i) { d2 += (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1) + " "; });
      if (s.points.length) out.push('<path class="line series" data-name="' + esc(s.name) + '" d="' + d2 + '" stroke="' + s.color + '"' + (s.dash ? ' stroke-dasharray="4 3"' : "") + "/>");
    });
    var lx = W - R - 4;
    for (k = series.length - 1; k >= 0; k--) {
      var name = series[k].name;
      out.push('<text class="legend" x="' + lx + '" y="' + (T + 12) + '" text-anchor="end" fill="' + series[k].color + '">' + esc(name) + "</text>");
      lx -= 8 + 6 * name.length;
    }
    out.push("</svg>");
    $(id).innerHTML = out.join("");
  }

  function drawAll() {
    var pts = function (f) { return st.ticks.map(function (t) { return [t.t, f(t)]; }); };
    chart("c-latency", [
      { name: "p50", color: "#0969da", points: pts(function (t) { return t.p50_ms; }) },
      { name: "p95", color: "#bc4c00", points: pts(function (t) { return t.p95_ms; }) },
      { name: "p99", color: "#cf222e", points: pts(function (t) { return t.p99_ms; }), dash: true }
    ], { label: "latency", min: 10 });
    chart("c-errors", [
      { name: "errors", color: "#cf222e", points: pts(function (t) { return t.err_pct; }) },
      { name: "5xx", color: "#bf8700", points: pts(function (t) { return t.err5xx_pct; }), dash: true }
    ], { label: "errors", min: 5 });
    var below = st.ticks.map(function () { return 0; });
    chart("c-traffic", st.regions.map(function (r) {
      var s = { name: r, color: color(r), points: st.ticks.map(function (t, i) {
        var lo = below[i], hi = lo + (t.by_region[r] || 0);
        below[i] = hi;
        return [t.t, lo, hi];
      }) };
      return s;
    }), { label: "traffic", area: true, min: 10 });
    chart("c-backlog", st.regions.map(function (r) {
      return { name: r, color: color(r), points: pts(function (t) { return t.backlog[r] || 0; }) };
    }), { label: "backlog", min: 5 });
  }

  function renderLists() {
    $("steps").innerHTML = st.steps.map(function (s) {
      var cls = s.end_t === null ? "open" : (s.outcome === "failed" ? "failed" : "");
      var span = s.end_t === null ? "running" : (s.end_t - s.start_t).toFixed(1) + " s, " + (s.outcome || "ok");
      return '<li class="' + cls + '">drill ' + esc(s.drill) + " · " + esc(s.name) + " <small>(T+" + s.start_t.toFixed(0) + " s, " + esc(span) + ")</small></li>";
    }).join("");
    $("actions").innerHTML = st.actions.map(function (a) {
      return "<li>T+" + a.t.toFixed(1) + " s · drill " + esc(a.drill) + " · " + esc(a.label) + "</li>";
    }).join("");
  }

  function renderFinal() {
    var f = st.final, v = $("verdict");
    if (!f && !st.stop) return;
    if (!f) { v.className = "verdict aborted"; v.innerHTML = "<h2>STOP CONDITION TRIPPED</h2>" + esc(st.stop); return; }
    var html = "<h2 id=\"verdict-word\">" + esc(f.verdict.toUpperCase()) + "</h2>" + (f.reason ? esc(f.reason) : "");
    if (f.failed.length) html += "<ul>" + f.failed.map(function (x) { return "<li>" + esc(x) + "</li>"; }).join("") + "</ul>";
    if (f.diagnoses.length) html += "<div>Diagnosed: " + f.diagnoses.map(esc).join("; ") + "</div>";
    if (f.report) html += '<div><a href="' + esc(f.report) + '">the full report</a></div>';
    v.className = "verdict " + f.verdict;
    v.innerHTML = html;
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("abort").addEventListener("click", function () {
      var tok = $("token").value;
      fetch("/abort", { method: "POST", headers: { "Authorization": "Bearer " + tok } }).then(function (r) {
        return r.text().then(function (t) { $("abort-result").textContent = r.status + " " + t; });
      }, function (e) { $("abort-result").textContent = String(e); });
    });
  });
})();
