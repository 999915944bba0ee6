//! `gan report` in a real browser: headless Chromium loads the page of a run it trained
//! here, and the test reads the DOM the browser built (curves with a point per epoch,
//! every grid image decoded by the browser, the slider, no script errors) and saves a
//! screenshot. `.ci/run` installs Debian's `chromium`; without it the browser part says so
//! and is skipped (the page's own checks still run).

mod common;

use std::path::Path;
use std::process::Command;

use common::{TINY, run, text};

const EPOCHS: usize = 4;

/// What the test's script (added to a copy of the page) finds once the page has loaded.
const PROBE: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
window.addEventListener('load', function () {
  var lines = [];
  document.querySelectorAll('#curves polyline').forEach(function (p) {
    var n = p.getAttribute('points').trim().split(/\s+/).length;
    if (p.getAttribute('stroke-width') === '2' && n > 2) lines.push(n);
  });
  var steps = [];
  document.querySelectorAll('#step-curves polyline').forEach(function (p) {
    var n = p.getAttribute('points').trim().split(/\s+/).length;
    if (p.getAttribute('stroke-width') === '2' && n > 2) steps.push(n);
  });
  var imgs = document.querySelectorAll('img');
  var decoded = 0;
  imgs.forEach(function (i) { if (i.complete && i.naturalWidth > 0) decoded++; });
  var s = document.getElementById('grid-slider');
  s.value = 0; s.dispatchEvent(new Event('input'));
  var first = document.getElementById('grid-epoch').textContent;
  var visible = Array.prototype.filter.call(document.querySelectorAll('img.grid'),
      function (i) { return !i.hidden; }).length;
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({lines: lines, steps: steps, images: imgs.length, decoded: decoded,
      first_epoch: first, visible: visible, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"#;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=10000",
        "--window-size=1400,1800",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_report_page_loads_in_a_browser_with_every_curve_and_grid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    let rs = r.to_str().expect("utf8");
    let epochs = EPOCHS.to_string();
    let mut args = TINY.to_vec();
    args.extend(["--out", rs, "--epochs", &epochs]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["report", "--run", rs]);
    assert!(o.status.success(), "{}", text(&o));
    let page = std::fs::read_to_string(r.join("report.html")).expect("page");
    // self-contained: nothing fetched from elsewhere (every src a data: URI, no links,
    // no stylesheet imports; the SVG's xmlns is a name, not a fetch)
    assert!(page.matches("src=\"").count() == page.matches("src=\"data:image/png;base64,").count());
    for bad in ["href=", "url(", "@import"] {
        assert!(!page.contains(bad), "the page refers to {bad}");
    }
    assert!(page.contains(&format!("{EPOCHS} of {EPOCHS} epochs")));
    assert!(page.contains("<pre id=\"config\">"));
    // a bad run directory is a clear error, exit non-zero
    let o = run(&["report", "--run", dir.path().to_str().expect("utf8")]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a run directory"), "{}", text(&o));

    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the browser half of this test: no Chromium at /usr/bin/chromium \
             (apt-get install chromium; .ci/run installs it)"
        );
        return;
    };
    let probe_page = dir.path().join("probe.html");
    std::fs::write(
        &probe_page,
        page.replace("</body>", &format!("{PROBE}</body>")),
    )
    .expect("write");
    let url = format!("file://{}", probe_page.display());
    let out = headless(browser, &dir.path().join("profile"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let at = dom
        .find("<pre id=\"probe\">")
        .unwrap_or_else(|| panic!("no probe result in the DOM: {}", text(&out)));
    let json = &dom[at + 16..];
    let json = &json[..json.find("</pre>").expect("end of probe")];
    let json = json.replace("&quot;", "\"").replace("&amp;", "&");
    let v: serde_json::Value = serde_json::from_str(&json).expect("probe json");
    eprintln!("browser probe: {v}");
    // losses (D, G) and D's outputs (D(x), D(G(z))): four series, a point per epoch
    let lines: Vec<u64> = v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|x| x.as_u64())
        .collect();
    assert!(lines.len() >= 4, "{v}");
    assert!(lines.iter().all(|&n| n == EPOCHS as u64), "{v}");
    // the same four series per step from the TensorBoard events: 20 steps an epoch, a
    // point per window of 10
    let steps: Vec<u64> = v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|x| x.as_u64())
        .collect();
    assert_eq!(steps, [2 * EPOCHS as u64; 4], "{v}");
    // every image on the page (a grid per epoch) decoded by the browser
    assert_eq!(v["images"].as_u64(), Some(EPOCHS as u64), "{v}");
    assert_eq!(v["decoded"], v["images"], "{v}");
    // the slider shows one grid at a time and names its epoch
    assert_eq!(v["first_epoch"].as_str(), Some("1"), "{v}");
    assert_eq!(v["visible"].as_u64(), Some(1), "{v}");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(0), "{v}");

    // a screenshot of the page as the browser drew it
    let shot = dir.path().join("report.png");
    let o = headless(browser, &dir.path().join("profile2"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", r.join("report.html").display()))
        .output()
        .expect("chromium runs");
    let png = image::open(&shot).unwrap_or_else(|e| panic!("screenshot: {e}: {}", text(&o)));
    assert_eq!((png.width(), png.height()), (1400, 1800));
    if let Ok(keep) = std::env::var("GAN_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("copy the screenshot");
    }
}
