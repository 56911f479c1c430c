/** The report's stylesheet, inlined into the page (the file must open without a network). */
export const REPORT_CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 900px; padding: 0 16px; color: #1d2330; background: #fff; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { font-size: 16px; margin: 28px 0 10px; border-bottom: 1px solid #dde1e8; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 0 0 4px; }
code { font: 12px ui-monospace, monospace; background: #f1f3f6; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
.meta, .fingerprint, footer, .legend { color: #5b6474; font-size: 12px; }
.reason { margin: 8px 0 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; margin: 0; }
.figures div { border: 1px solid #dde1e8; border-radius: 6px; padding: 8px 10px; }
.figures dt { color: #5b6474; font-size: 12px; }
.figures dd { margin: 2px 0 0; font-size: 18px; font-weight: 600; }
.chart { max-width: 100%; height: auto; }
.chart .axis { stroke: #8a93a3; stroke-width: 1; }
.chart .tick { font-size: 11px; fill: #5b6474; }
.chart .failed-text { fill: #c0392b; }
.chart .rate { fill: none; stroke: #2f6fde; stroke-width: 2; }
.chart .failed { fill: #e06c5f; opacity: .8; }
.history .throughput { fill: #9dbaf0; }
.history .current .throughput { fill: #2f6fde; }
.history .failure-rate { fill: #c0392b; }
.history .failure-line { fill: none; stroke: #e06c5f; stroke-width: 1.5; }
.history .run-label { font-size: 10px; fill: #5b6474; }
.regression { margin: 0 0 8px; padding: 6px 10px; border-left: 4px solid #e0a030; background: #fdf6e8; }
.key { display: inline-block; width: 12px; height: 8px; margin: 0 4px 0 10px; }
.rate-key, .throughput-key { background: #2f6fde; }
.failed-key { background: #e06c5f; }
.group { border: 1px solid #dde1e8; border-left: 4px solid #e06c5f; border-radius: 6px; padding: 10px 12px; margin: 0 0 12px; }
.group .count { color: #c0392b; }
.group .kind { font-weight: normal; color: #5b6474; }
.message { white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
table { border-collapse: collapse; width: 100%; margin-top: 6px; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 4px 6px; border-top: 1px solid #eef0f3; }
.num { text-align: right; white-space: nowrap; }
.template { white-space: pre-wrap; word-break: break-word; }
.empty { color: #5b6474; }
footer { margin-top: 32px; }
`;
