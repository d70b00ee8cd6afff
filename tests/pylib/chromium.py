# SPDX-License-Identifier: MIT
# chromium.py: renders a page in headless Chromium: a screenshot, and the laid-out geometry of its elements (a copy
# of the page with a script that writes bounding boxes into the DOM, read back with --dump-dom).
import json
import os
import re
import shutil
import subprocess
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def find():
    """The Chromium binary, or None (scripts/install-deps.sh installs Debian's chromium)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args, work, timeout=120):
    prof = tempfile.mkdtemp(prefix="chromium.", dir=work)
    try:
        return subprocess.run([find()] + FLAGS + ["--user-data-dir=" + prof] + args, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def screenshot(html, png, width, height, work):
    """Writes png, a width x height screenshot of the page html. Returns the CompletedProcess."""
    return _run(["--screenshot=" + png, "--window-size=%d,%d" % (width, height), "file://" + os.path.abspath(html)],
                work)


# For every <svg> of the page: the boxes of its title, legend, plot area and markers, and its y tick labels; for the
# page: the table rows' classes and the flagged cells. Boxes are [left, top, right, bottom] in page pixels.
PROBE = r"""
<script>
window.addEventListener('load', function () {
  function box(el) { var r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  function all(root, sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); }
  var out = {svgs: [], rows: [], flag_cells: all(document, 'td.flag').map(function (e) { return e.textContent; })};
  all(document, 'svg').forEach(function (s) {
    var t = s.querySelector('.title'), l = s.querySelector('.legend'), a = s.querySelector('.plot-area');
    out.svgs.push({
      title: t ? box(t) : null, title_text: t ? t.textContent : '', legend: l ? box(l) : null,
      plot: a ? box(a) : null,
      chosen: all(s, 'circle.chosen').map(box), measured: all(s, 'rect.measured').map(box),
      reference: all(s, 'rect.reference').map(box), flags: all(s, 'circle.flag').length,
      budgets: all(s, 'line.budget').length,
      yticks: all(s, 'text.ytick').map(function (e) { return parseFloat(e.textContent); })});
  });
  all(document, 'tr').forEach(function (r) {
    out.rows.push({cls: r.className, cells: all(r, 'td').map(function (c) { return c.textContent; })});
  });
  var pre = document.createElement('pre');
  pre.id = 'hant-geometry';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def geometry(html, width, height, work):
    """Lays the page out at width x height and returns (geometry dict or None, stderr)."""
    probe = os.path.join(work, "probe-" + os.path.basename(html))
    text = open(html).read()
    open(probe, "w").write(text.replace("</body>", PROBE + "</body>", 1))
    r = _run(["--window-size=%d,%d" % (width, height), "--virtual-time-budget=5000", "--dump-dom",
              "file://" + os.path.abspath(probe)], work)
    m = re.search(r'<pre id="hant-geometry">(.*?)</pre>', r.stdout, re.S)
    if not m:
        return None, r.stderr
    raw = m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(raw), r.stderr


def overlap(a, b):
    """Two boxes share area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def centre_inside(b, area):
    """The centre of box b lies inside area (markers are drawn around their point)."""
    x, y = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return area[0] <= x <= area[2] and area[1] <= y <= area[3]
