// HQ dashboard charts: each <script type="application/json" class="chart-data" data-for="ID">
// on a page holds one chart's labels and series; Chart.js (vendored, served by the app)
// draws it into <canvas id="ID">. Labels arrive in Persian from the server; numbers on the
// axes and in tooltips are written here with Persian digits. Right to left: the first month
// sits on the right, the value axis on the right, legends and tooltips read RTL.
(function () {
  "use strict";
  const FA = "fa-IR";
  const PALETTE = ["#0f766e", "#d97706", "#2563eb", "#be123c", "#7c3aed", "#4d7c0f",
                   "#0891b2", "#9f1239", "#475569", "#ca8a04"];

  function number(value, digits) {
    return Number(value).toLocaleString(FA, { maximumFractionDigits: digits });
  }

  function formatter(kind) {
    if (kind === "rial") return (v) => number(Math.trunc(v / 10), 0) + " تومان";
    if (kind === "pct") return (v) => number(v * 100, 1) + "٪";
    if (kind === "score") return (v) => number(v, 1);
    return (v) => number(v, 0);
  }

  function build(canvas, spec) {
    const format = formatter(spec.format);
    const horizontal = !!spec.horizontal;
    const valueAxis = horizontal ? "x" : "y";
    const labelAxis = horizontal ? "y" : "x";
    const scales = {};
    scales[labelAxis] = {
      reverse: !horizontal, // right to left: the first label on the right
      stacked: !!spec.stacked,
      ticks: { autoSkip: true, maxRotation: 0 },
    };
    scales[labelAxis].position = horizontal ? "right" : "bottom";
    scales[valueAxis] = {
      position: horizontal ? "bottom" : "right",
      reverse: horizontal,
      stacked: !!spec.stacked,
      beginAtZero: true,
      // Counts and Rials have no fractions: whole ticks only, never "۱ ۱ ۲ ۲".
      ticks: { callback: format, precision: spec.format === "int" ? 0 : undefined,
               maxTicksLimit: horizontal ? 5 : 8, maxRotation: 0 },
    };
    if (spec.format === "pct") scales[valueAxis].max = spec.stacked ? 1 : undefined;
    return new Chart(canvas, {
      type: spec.type || "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map((s, i) => ({
          label: s.label,
          data: s.data,
          backgroundColor: (s.color || PALETTE[i % PALETTE.length]) +
            (spec.type === "line" ? "33" : "cc"),
          borderColor: s.color || PALETTE[i % PALETTE.length],
          borderWidth: spec.type === "line" ? 2 : 0,
          maxBarThickness: 36,
          fill: false,
          tension: 0.2,
          spanGaps: true,
        })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        locale: FA,
        layout: { padding: { left: 24, right: 4 } }, // room for the last label on the left
        scales: scales,
        plugins: {
          legend: { display: spec.series.length > 1, rtl: true, textDirection: "rtl",
                    position: "bottom" },
          tooltip: {
            rtl: true,
            textDirection: "rtl",
            callbacks: { label: (c) => `${c.dataset.label}: ${format(c.parsed[valueAxis])}` },
          },
        },
      },
    });
  }

  function drawAll() {
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#1d2433";
    for (const holder of document.querySelectorAll("script.chart-data")) {
      const canvas = document.getElementById(holder.dataset.for);
      if (!canvas) continue;
      const chart = build(canvas, JSON.parse(holder.textContent));
      canvas.dataset.drawn = String(chart.data.datasets.length);
    }
    document.documentElement.dataset.charts = "ready";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
