package trend

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2329; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; }
.sub { color: #57606a; margin: 0 0 16px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 4px; } figcaption span { font-weight: 400; color: #57606a; }
svg .plot { fill: #fff; stroke: #d0d7de; } svg .grid { stroke: #eaeef2; } svg .axis { font-size: 10px; fill: #57606a; }
svg .line { fill: none; stroke: #54aeff; stroke-width: 1.5; } svg .limit { stroke: #8250df; stroke-dasharray: 5 4; }
svg .pass { fill: #1a7f37; } svg .fail { fill: #cf222e; stroke: #fff; stroke-width: 1; } svg a:hover circle { stroke: #000; stroke-width: 2; }
table { border-collapse: collapse; margin-top: 8px; } td, th { padding: 3px 10px; border-bottom: 1px solid #eaeef2; text-align: left; }
.PASS { color: #1a7f37; font-weight: 600; } .FAIL, .ABORTED { color: #cf222e; font-weight: 600; } .INCONCLUSIVE { color: #6e7781; font-weight: 600; }
.key span { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin: 0 4px 0 12px; vertical-align: -1px; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="sub">{{len .Runs}} runs{{if .Runs}}, {{when (index .Runs 0).Started}} to {{when (index .Runs (len .Runs | dec)).Started}}{{end}}{{if .Filter}}; {{.Filter}}{{end}}.
<span class="key"><span style="background:#1a7f37"></span>target held<span style="background:#cf222e"></span>target failed<span style="background:none;border:1px dashed #8250df;border-radius:0;height:0;width:14px"></span>threshold.</span>
Each point links to its run's report.</p>
{{range .Drills}}
<h2>{{.Title}}</h2>
<div class="charts">
{{range .Charts}}<figure><figcaption>{{.Target}} <span>{{if .Threshold}}target {{.Threshold}}; {{end}}{{.N}} runs{{if .Fails}}, {{.Fails}} failed{{end}}</span></figcaption>{{.SVG}}</figure>
{{end}}</div>
{{else}}<p>No numeric targets recorded yet.</p>
{{end}}
<h2>Runs</h2>
<table>
<tr><th>id</th><th>started (UTC)</th><th>verdict</th><th>drills</th><th>target</th><th>plan</th><th>failed targets</th><th>report</th></tr>
{{range $i, $r := .Runs}}<tr><td>{{$r.ID}}</td><td>{{when $r.Started}}</td><td class="{{upper $r.Verdict}}">{{upper $r.Verdict}}</td><td>{{join $r.Drills}}</td><td>{{$r.Target}}</td><td>{{short $r.PlanKey}}</td><td>{{range $r.Summary.Failed}}{{.}} {{end}}</td><td><a href="{{index $.Links $i}}">report.html</a></td></tr>
{{end}}</table>
</body>
</html>
`
