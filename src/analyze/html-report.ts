import type { ImageAnalysis } from './analyze-image.ts';
import { type ByteAttribution, sourceLabel } from './attribute-bytes.ts';
import { shortCreatedBy } from './layer-history.ts';
import type { HiddenFile, MergedFile } from './merged-filesystem.ts';

/** Inputs of {@link renderHtmlReport}. */
export interface HtmlReportInput {
  /** The image's name as the user gave it. */
  readonly name: string;
  readonly analysis: ImageAnalysis;
  /** The final filesystem (from {@link analyzeImageWithFiles}). */
  readonly files: readonly MergedFile[];
  /** The files later layers hid (from {@link analyzeImageWithFiles}): drawn as waste. */
  readonly hiddenFiles: readonly HiddenFile[];
  /** Where each layer's bytes came from, when the image's build graph is known. */
  readonly attribution?: ByteAttribution;
}

/** The data the page's script reads (embedded as JSON). */
interface ReportData {
  readonly name: string;
  readonly digest: string;
  readonly summary: {
    readonly sizeBytes: number;
    readonly compressedSize: number;
    readonly efficiency: number;
    readonly wastedBytes: number;
    readonly reclaimableBytes: number;
    readonly userWastedPercent: number | null;
  };
  readonly layers: readonly {
    readonly index: number;
    readonly createdBy: string;
    readonly compressedSize: number;
    readonly contentSize: number;
    readonly fileCount: number;
    /** Bytes this layer added that later layers hid. */
    readonly wastedBytes: number;
    readonly source?: string;
  }[];
  /** [path, size, layer] of every visible non-directory. */
  readonly files: readonly (readonly [string, number, number])[];
  /** [path, size, layer, hiding layer, 'r' removed | 'o' overwritten] of every hidden file. */
  readonly hidden: readonly (readonly [string, number, number, number, 'r' | 'o'])[];
  readonly wasted: readonly {
    readonly path: string;
    readonly bytes: number;
    readonly files: number;
    readonly action: string;
    readonly addedBy: number;
    readonly hiddenBy: number;
  }[];
}

/** JSON safe inside a `<script>` element: `<`, U+2028 and U+2029 escaped. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * One self-contained HTML page (inline CSS and JS, no network) showing an analysed image: a
 * treemap of the image's files coloured by the layer (or, with an attribution, the source: base
 * image, stage, context) that added them, with the bytes later layers hid drawn hatched in red
 * where they lie; the layer list, where a click shows that layer's own files — those still
 * visible and those later layers hid — in the treemap and in a file list; and the wasted-space
 * list. Long commands are shortened to one line (the full text in a tooltip, and in the selected
 * layer's row).
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const { analysis } = input;
  const sources = new Map(
    input.attribution?.aligned ? input.attribution.steps.map((s) => [s.layer, sourceLabel(s.source)]) : [],
  );
  const data: ReportData = {
    name: input.name,
    digest: analysis.digest,
    summary: {
      sizeBytes: analysis.sizeBytes,
      compressedSize: analysis.compressedSize,
      efficiency: analysis.efficiency,
      wastedBytes: analysis.wastedBytes,
      reclaimableBytes: analysis.reclaimableBytes,
      userWastedPercent: Number.isFinite(analysis.userWastedPercent) ? analysis.userWastedPercent : null,
    },
    layers: analysis.layers.map((l) => ({
      index: l.index,
      createdBy: shortCreatedBy(l.createdBy),
      compressedSize: l.compressedSize,
      contentSize: l.contentSize,
      fileCount: l.fileCount,
      wastedBytes: input.hiddenFiles.reduce((n, f) => n + (f.layer === l.index ? f.size : 0), 0),
      ...(sources.has(l.index) ? { source: sources.get(l.index)! } : {}),
    })),
    files: input.files.map((f) => [f.path, f.size, f.layer] as const),
    hidden: input.hiddenFiles.map(
      (f) => [f.path, f.size, f.layer, f.hiddenBy, f.action === 'removed' ? 'r' : 'o'] as const,
    ),
    wasted: analysis.wastedPaths.map((w) => ({
      path: w.path,
      bytes: w.bytes,
      files: w.files,
      action: w.action,
      addedBy: w.addedBy.layer,
      hiddenBy: w.hiddenBy.layer,
    })),
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>strata analyze: ${escapeHtml(input.name)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(input.name)}</h1><code>${escapeHtml(analysis.digest)}</code><div id="summary"></div></header>
<main>
<section id="map-section">
  <div class="toolbar"><span id="filter-label">All layers</span>
  <label id="colour-choice" hidden>colour by <select id="colour-by"><option value="layer">layer</option><option value="source">source</option></select></label></div>
  <div id="treemap" role="img" aria-label="treemap of the image's files, wasted bytes hatched"></div>
  <div id="legend"></div>
  <h2 id="files-title">Largest files</h2>
  <table id="layer-files"><thead><tr><th>size</th><th>path</th><th>layer</th><th>in the final filesystem</th></tr></thead><tbody></tbody></table>
</section>
<aside>
  <h2>Layers</h2>
  <button id="all-layers" type="button">All layers</button>
  <table id="layers"><thead><tr><th></th><th>#</th><th>size</th><th>wasted</th><th>files</th><th>created by</th></tr></thead><tbody></tbody></table>
  <h2>Wasted space</h2>
  <p class="note">Bytes a layer added that a later layer removed or overwrote: the image carries them, a container never sees them. The picture draws them hatched in red where they lie.</p>
  <table id="wasted"><thead><tr><th>bytes</th><th>path</th><th>added by</th><th>hidden by</th></tr></thead><tbody></tbody></table>
</aside>
</main>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:13px/1.4 system-ui,sans-serif;color:#1d232a;background:#f6f7f9}
header{padding:12px 20px;background:#1d232a;color:#fff}header h1{margin:0 12px 0 0;font-size:18px;display:inline}
header code{color:#9fb3c8;font-size:12px}#summary{margin-top:6px;display:flex;gap:22px;flex-wrap:wrap}
#summary b{font-size:15px}main{display:flex;gap:16px;padding:16px}#map-section{flex:1 1 60%;min-width:0}
aside{flex:1 1 40%;min-width:360px;max-height:calc(100vh - 120px);overflow:auto}
.toolbar{display:flex;justify-content:space-between;margin-bottom:6px}#filter-label{font-weight:600}
#treemap{position:relative;width:100%;height:560px;background:#fff;border:1px solid #ccd3da;overflow:hidden}
.tm-dir{position:absolute;border:1px solid rgba(0,0,0,.35);overflow:hidden}
.tm-dir>span{position:absolute;left:2px;top:0;font-size:10px;white-space:nowrap;color:#1d232a}
.tm-file,.tm-rest{position:absolute;border:1px solid rgba(255,255,255,.7);overflow:hidden;font-size:10px;color:#fff;padding:1px 2px;white-space:nowrap}
.tm-rest{background:repeating-linear-gradient(45deg,#b7c0c9,#b7c0c9 4px,#c9d1d8 4px,#c9d1d8 8px);color:#333}
.tm-waste{background-image:repeating-linear-gradient(-45deg,rgba(200,20,20,.85) 0 3px,rgba(255,255,255,.25) 3px 7px)!important;outline:1px solid #b01010;outline-offset:-1px}
.swatch.waste{background:repeating-linear-gradient(-45deg,#c81414 0 3px,#fff 3px 6px)}
#layer-files td.hidden{color:#b01010}#layer-files{font-size:12px}.more{color:#5a6672}
#legend{margin-top:6px;display:flex;flex-wrap:wrap;gap:10px}.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-2px;margin-right:4px}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:14px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e3e7eb;vertical-align:top}
td.num{text-align:right;white-space:nowrap}#layers tbody tr{cursor:pointer}#layers tbody tr:hover{background:#eef3f8}
#layers tbody tr.selected{background:#dce9f7;outline:2px solid #3b82c4}h2{font-size:14px;margin:10px 0 6px}.note{color:#5a6672;margin:0 0 6px}
button{font:inherit;padding:3px 10px;margin-bottom:6px;cursor:pointer}code.cmd{font-size:11px;word-break:break-all}
#layers tbody tr:not(.selected) code.cmd{white-space:nowrap}
`;

/** The page's script: builds the treemap (squarified, Bruls et al. 2000) and wires the filters. */
const SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var state = { layer: null, colourBy: 'layer' };
  var MIN_AREA = 30, HEADER = 13, MAX_RECTS = 4000, MAX_ROWS = 300, SHORT = 72;

  function fmt(n) {
    var u = ['B', 'kB', 'MB', 'GB', 'TB'], i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)) + u[i];
  }
  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
  /** A command on one line: long ones cut with an ellipsis (the full text goes in a title). */
  function short(text, max) { return text.length > max ? text.slice(0, max - 1) + '\u2026' : text; }
  function layerLabel(i) { var l = data.layers[i]; return '#' + i + (l ? ' ' + short(l.createdBy, 48) : ''); }
  function colourOfIndex(i, n) {
    var hue = Math.round((i * 360 / Math.max(n, 1) + 200) % 360);
    return 'hsl(' + hue + ',62%,' + (i % 2 ? 42 : 52) + '%)';
  }
  var sources = [];
  data.layers.forEach(function (l) { if (l.source && sources.indexOf(l.source) < 0) sources.push(l.source); });
  function colourOf(layer) {
    if (state.colourBy === 'source' && data.layers[layer] && data.layers[layer].source)
      return colourOfIndex(sources.indexOf(data.layers[layer].source), sources.length);
    return colourOfIndex(layer, data.layers.length);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Files as { path, size, layer, hiddenBy, action }: hiddenBy is null for a visible file. */
  var visible = data.files.map(function (f) { return { path: f[0], size: f[1], layer: f[2], hiddenBy: null }; });
  var hidden = data.hidden.map(function (f) {
    return { path: f[0], size: f[1], layer: f[2], hiddenBy: f[3], action: f[4] === 'r' ? 'removed' : 'overwritten' };
  });

  function buildTree(files) {
    var root = { name: '/', path: '/', size: 0, children: {}, files: [] };
    files.forEach(function (f) {
      var parts = f.path.split('/').filter(Boolean), node = root;
      root.size += f.size;
      for (var i = 0; i < parts.length - 1; i++) {
        var c = node.children[parts[i]];
        if (!c) c = node.children[parts[i]] = { name: parts[i], path: node.path + parts[i] + '/', size: 0, children: {}, files: [] };
        c.size += f.size;
        node = c;
      }
      node.files.push({ name: parts[parts.length - 1], file: f });
    });
    return root;
  }

  function worst(row, w) {
    var s = 0, max = 0, min = Infinity;
    row.forEach(function (r) { s += r.area; if (r.area > max) max = r.area; if (r.area < min) min = r.area; });
    return Math.max(w * w * max / (s * s), (s * s) / (w * w * min));
  }
  function squarify(items, x, y, w, h) {
    var out = [], rest = items.slice();
    while (rest.length) {
      var side = Math.min(w, h), row = [rest.shift()];
      while (rest.length && worst(row.concat([rest[0]]), side) <= worst(row, side)) row.push(rest.shift());
      var sum = row.reduce(function (a, r) { return a + r.area; }, 0);
      if (w >= h) {
        var rw = sum / h, yy = y;
        row.forEach(function (r) { var rh = r.area / rw; out.push({ item: r.item, x: x, y: yy, w: rw, h: rh }); yy += rh; });
        x += rw; w -= rw;
      } else {
        var rh2 = sum / w, xx = x;
        row.forEach(function (r) { var cw = r.area / rh2; out.push({ item: r.item, x: xx, y: y, w: cw, h: rh2 }); xx += cw; });
        y += rh2; h -= rh2;
      }
    }
    return out;
  }

  var rects = 0;
  function layout(node, x, y, w, h, box) {
    var items = [];
    Object.keys(node.children).forEach(function (k) { var c = node.children[k]; if (c.size > 0) items.push({ kind: 'dir', node: c, size: c.size }); });
    node.files.forEach(function (f) { if (f.file.size > 0) items.push({ kind: 'file', name: f.name, file: f.file, size: f.file.size }); });
    var total = items.reduce(function (a, i) { return a + i.size; }, 0);
    if (!total || w < 2 || h < 2) return;
    items.sort(function (a, b) { return b.size - a.size; });
    var scale = (w * h) / total, kept = [], restSize = 0, restCount = 0, restWaste = 0;
    items.forEach(function (i) {
      if (i.size * scale >= MIN_AREA && rects < MAX_RECTS) { kept.push(i); rects++; }
      else {
        restSize += i.size; restCount += i.kind === 'file' ? 1 : 0;
        if (i.kind === 'file' && i.file.hiddenBy !== null) restWaste += i.size;
      }
    });
    if (restSize > 0) kept.push({ kind: 'rest', size: restSize, count: restCount, waste: restWaste });
    var placed = squarify(kept.map(function (i) { return { item: i, area: i.size * scale }; }), x, y, w, h);
    placed.forEach(function (p) {
      var i = p.item, d;
      if (i.kind === 'dir') {
        d = el('div', 'tm-dir');
        d.dataset.path = i.node.path;
        d.title = i.node.path + '  ' + fmt(i.node.size);
        if (p.h > HEADER + 6 && p.w > 30) d.appendChild(el('span', '', i.node.name + '/ ' + fmt(i.node.size)));
        place(d, p, box);
        var inset = p.h > HEADER + 6 ? HEADER : 1;
        layout(i.node, 1, inset, p.w - 2, p.h - inset - 1, d);
      } else if (i.kind === 'file') {
        var f = i.file, waste = f.hiddenBy !== null;
        d = el('div', 'tm-file' + (waste ? ' tm-waste' : ''), p.w > 40 && p.h > 12 ? i.name : '');
        d.dataset.layer = String(f.layer);
        d.dataset.path = f.path;
        d.style.backgroundColor = colourOf(f.layer);
        d.title = f.path + '  ' + fmt(f.size) + '  added by ' + layerLabel(f.layer) +
          (waste ? '\\nwasted: ' + f.action + ' by ' + layerLabel(f.hiddenBy) : '');
        if (waste) { d.dataset.waste = '1'; d.dataset.hiddenBy = String(f.hiddenBy); }
        place(d, p, box);
      } else {
        d = el('div', 'tm-rest' + (i.waste > i.size / 2 ? ' tm-waste' : ''), p.w > 60 && p.h > 12 ? (i.count ? i.count + ' small files' : 'small dirs') : '');
        d.title = fmt(i.size) + ' in small files and directories' + (i.waste ? ', ' + fmt(i.waste) + ' of it wasted' : '');
        if (i.waste > i.size / 2) d.dataset.waste = '1';
        place(d, p, box);
      }
    });
  }
  function place(d, p, box) {
    d.style.left = p.x + 'px'; d.style.top = p.y + 'px';
    d.style.width = Math.max(p.w, 0) + 'px'; d.style.height = Math.max(p.h, 0) + 'px';
    box.appendChild(d);
  }

  /** What the picture and the list show: every file the image carries, or one layer's own. */
  function selected() {
    var all = visible.concat(hidden);
    return state.layer === null ? all : all.filter(function (f) { return f.layer === state.layer; });
  }

  function renderTreemap() {
    var box = document.getElementById('treemap');
    box.textContent = '';
    rects = 0;
    var files = selected();
    var tree = buildTree(files);
    layout(tree, 0, 0, box.clientWidth, box.clientHeight, box);
    var wasted = files.filter(function (f) { return f.hiddenBy !== null; });
    var wastedBytes = wasted.reduce(function (a, f) { return a + f.size; }, 0);
    box.dataset.files = String(files.length);
    box.dataset.wasted = String(wasted.length);
    box.dataset.filter = state.layer === null ? 'all' : String(state.layer);
    var waste = wasted.length ? '; ' + plural(wasted.length, 'file') + ', ' + fmt(wastedBytes) + ' wasted (hidden by later layers, hatched red)' : '; nothing wasted';
    document.getElementById('filter-label').textContent = (state.layer === null
      ? 'All layers: ' + plural(files.length, 'file') + ', ' + fmt(tree.size)
      : 'Layer #' + state.layer + ': ' + plural(files.length, 'file') + ', ' + fmt(tree.size)) + waste;
    renderLegend();
    renderFiles(files);
  }

  function renderFiles(files) {
    document.getElementById('files-title').textContent = state.layer === null
      ? 'Largest files'
      : 'Files of layer #' + state.layer + ' (' + short(data.layers[state.layer].createdBy, SHORT) + ')';
    var body = document.querySelector('#layer-files tbody');
    body.textContent = '';
    var sorted = files.slice().sort(function (a, b) { return b.size - a.size || (a.path < b.path ? -1 : 1); });
    if (!sorted.length) {
      var tr0 = el('tr'), td0 = el('td', '', 'this layer adds no files (only directories, metadata or deletions)');
      td0.colSpan = 4; tr0.appendChild(td0); body.appendChild(tr0);
    }
    sorted.slice(0, MAX_ROWS).forEach(function (f) {
      var tr = el('tr');
      tr.dataset.path = f.path;
      tr.dataset.status = f.hiddenBy === null ? 'visible' : 'hidden';
      tr.appendChild(el('td', 'num', fmt(f.size)));
      tr.appendChild(el('td', '', f.path));
      var added = el('td', '', '#' + f.layer); added.title = data.layers[f.layer] ? data.layers[f.layer].createdBy : ''; tr.appendChild(added);
      var status = f.hiddenBy === null
        ? el('td', '', 'visible')
        : el('td', 'hidden', 'wasted: ' + f.action + ' by ' + layerLabel(f.hiddenBy));
      if (f.hiddenBy !== null) status.title = data.layers[f.hiddenBy].createdBy;
      tr.appendChild(status);
      body.appendChild(tr);
    });
    if (sorted.length > MAX_ROWS) {
      var more = el('tr'), td = el('td', 'more', '\u2026 ' + (sorted.length - MAX_ROWS) + ' smaller files');
      td.colSpan = 4; more.appendChild(td); body.appendChild(more);
    }
  }

  function renderLegend() {
    var legend = document.getElementById('legend');
    legend.textContent = '';
    var entries = state.colourBy === 'source'
      ? sources.map(function (s) { var l = data.layers.find(function (x) { return x.source === s; }); return [s, colourOf(l.index)]; })
      : data.layers.map(function (l) { return ['#' + l.index, colourOf(l.index)]; });
    entries.forEach(function (e) {
      var item = el('span'), sw = el('span', 'swatch');
      sw.style.background = e[1];
      item.appendChild(sw); item.appendChild(document.createTextNode(e[0]));
      legend.appendChild(item);
    });
    var w = el('span'); w.appendChild(el('span', 'swatch waste')); w.appendChild(document.createTextNode('wasted: hidden by a later layer'));
    legend.appendChild(w);
  }

  function renderLayers() {
    var body = document.querySelector('#layers tbody');
    body.textContent = '';
    data.layers.forEach(function (l) {
      var tr = el('tr');
      tr.dataset.layer = String(l.index);
      if (state.layer === l.index) tr.className = 'selected';
      var sw = el('span', 'swatch'); sw.style.background = colourOf(l.index);
      var td0 = el('td'); td0.appendChild(sw); tr.appendChild(td0);
      tr.appendChild(el('td', 'num', String(l.index)));
      tr.appendChild(el('td', 'num', fmt(l.contentSize)));
      tr.appendChild(el('td', 'num', l.wastedBytes ? fmt(l.wastedBytes) : '-'));
      tr.appendChild(el('td', 'num', String(l.fileCount)));
      // The selected layer shows its whole command; the others one line of it.
      var text = l.createdBy + (l.source ? '  [' + l.source + ']' : '');
      var code = el('code', 'cmd', state.layer === l.index ? text : short(l.createdBy, SHORT) + (l.source ? '  [' + l.source + ']' : ''));
      code.title = text;
      var cmd = el('td'); cmd.appendChild(code); tr.appendChild(cmd);
      tr.addEventListener('click', function () { state.layer = state.layer === l.index ? null : l.index; renderLayers(); renderTreemap(); });
      body.appendChild(tr);
    });
  }

  function renderWasted() {
    var body = document.querySelector('#wasted tbody');
    if (!data.wasted.length) { var tr0 = el('tr'); var td = el('td', '', 'nothing: no layer hides bytes of another'); td.colSpan = 4; tr0.appendChild(td); body.appendChild(tr0); return; }
    data.wasted.forEach(function (w) {
      var tr = el('tr');
      tr.appendChild(el('td', 'num', fmt(w.bytes)));
      tr.appendChild(el('td', '', w.path + (w.files > 1 ? ' (' + w.files + ' files)' : '')));
      var added = el('td', '', layerLabel(w.addedBy)); added.title = data.layers[w.addedBy].createdBy; tr.appendChild(added);
      var hid = el('td', '', w.action + ' by ' + layerLabel(w.hiddenBy)); hid.title = data.layers[w.hiddenBy].createdBy; tr.appendChild(hid);
      body.appendChild(tr);
    });
  }

  function renderSummary() {
    var s = data.summary, box = document.getElementById('summary');
    [['size', fmt(s.sizeBytes)], ['compressed', fmt(s.compressedSize)], ['efficiency (dive)', (s.efficiency * 100).toFixed(2) + ' %'],
     ['wasted (dive)', fmt(s.wastedBytes)], ['reclaimable', fmt(s.reclaimableBytes)], ['layers', String(data.layers.length)]]
      .forEach(function (p) { var d = el('span'); d.appendChild(document.createTextNode(p[0] + ' ')); d.appendChild(el('b', '', p[1])); box.appendChild(d); });
  }

  document.getElementById('all-layers').addEventListener('click', function () { state.layer = null; renderLayers(); renderTreemap(); });
  if (sources.length) {
    document.getElementById('colour-choice').hidden = false;
    state.colourBy = 'source';
    document.getElementById('colour-by').value = 'source';
    document.getElementById('colour-by').addEventListener('change', function (e) { state.colourBy = e.target.value; renderLayers(); renderTreemap(); });
  }
  renderSummary(); renderLayers(); renderWasted(); renderTreemap();
  window.addEventListener('resize', renderTreemap);
})();
`;
