// Chart.js, tree-shaken to the bar chart parts the two reports draw.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartType,
  type Plugin,
  type Scale,
} from 'chart.js';

declare module 'chart.js' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the augmented interface is generic
  interface PluginOptionsByType<TType extends ChartType> {
    /** The value where the mean rule is drawn (the plugin below). */
    meanLine?: { value?: number };
  }
}

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);
Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
Chart.defaults.color = '#1f2933';
Chart.defaults.animation = false;

// Exposed so the browser console (and the browser tests) can read a chart: Chart.getChart(canvas).
(window as unknown as { Chart: typeof Chart }).Chart = Chart;

/** Quarter colours: a colour-blind-safe set (Okabe–Ito), each distinct from its neighbours. */
export const QUARTER_COLORS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7'] as const;
const ABOVE = '#0b5cad';
const BELOW = '#a7b4c2';
const MEAN = '#b3261e';

export interface QuarterBars {
  departments: string[];
  /** quarters[q][i]: hires of department i in quarter q + 1. */
  quarters: [number[], number[], number[], number[]];
}

/** One horizontal bar per department, its four quarters stacked. */
export function drawQuarterChart(canvas: HTMLCanvasElement, data: QuarterBars): Chart<'bar'> {
  Chart.getChart(canvas)?.destroy();
  sizeFor(canvas, data.departments.length);
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: data.departments,
      datasets: data.quarters.map((values, q) => ({
        label: `Q${q + 1}`,
        data: values,
        backgroundColor: QUARTER_COLORS[q],
        borderColor: '#ffffff',
        borderWidth: 1,
        stack: 'quarters',
      })),
    },
    options: {
      indexAxis: 'y',
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true, beginAtZero: true, title: { display: true, text: 'Hires' }, ticks: { precision: 0 } },
        y: { stacked: true, ticks: departmentTicks() },
      },
      plugins: {
        legend: { position: 'top' },
        tooltip: {
          mode: 'index',
          intersect: false,
          callbacks: { footer: (items) => `Total: ${items.reduce((sum, item) => sum + Number(item.raw), 0)}` },
        },
      },
    },
  });
}

export interface DepartmentBars {
  departments: string[];
  hires: number[];
  above: boolean[];
  mean: number;
}

// Draws the mean as a vertical rule across the plot, labelled, over the bars.
const meanLine: Plugin<'bar'> = {
  id: 'meanLine',
  afterDatasetsDraw(chart) {
    const mean = chart.options.plugins?.meanLine?.value;
    if (mean === undefined || !Number.isFinite(mean)) return;
    const { ctx, chartArea, scales } = chart;
    const x = scales.x!.getPixelForValue(mean);
    ctx.save();
    ctx.strokeStyle = MEAN;
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(x, chartArea.top);
    ctx.lineTo(x, chartArea.bottom);
    ctx.stroke();
    ctx.restore();
  },
};

/** Every department's hires as a horizontal bar; the departments above the mean in a strong colour. */
export function drawDepartmentChart(canvas: HTMLCanvasElement, data: DepartmentBars): Chart<'bar'> {
  Chart.getChart(canvas)?.destroy();
  sizeFor(canvas, data.departments.length);
  const meanText = `Mean: ${data.mean.toFixed(1)}`;
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: data.departments,
      datasets: [
        {
          label: 'Hires',
          data: data.hires,
          backgroundColor: data.above.map((a) => (a ? ABOVE : BELOW)),
          borderColor: data.above.map((a) => (a ? ABOVE : '#7b8794')),
          borderWidth: 1,
        },
      ],
    },
    options: {
      indexAxis: 'y',
      maintainAspectRatio: false,
      scales: {
        x: { beginAtZero: true, title: { display: true, text: 'Hires' }, ticks: { precision: 0 } },
        y: { ticks: departmentTicks() },
      },
      plugins: {
        meanLine: { value: data.mean },
        legend: {
          position: 'top',
          onClick: () => undefined,
          labels: {
            generateLabels: () => [
              { text: 'Above the mean', fillStyle: ABOVE, strokeStyle: ABOVE, lineWidth: 1 },
              { text: 'At or below the mean', fillStyle: BELOW, strokeStyle: '#7b8794', lineWidth: 1 },
              { text: meanText, fillStyle: MEAN, strokeStyle: MEAN, lineWidth: 0 },
            ],
          },
        },
        tooltip: {
          callbacks: {
            afterLabel: (item) => (data.above[item.dataIndex] ? 'Above the mean' : 'At or below the mean'),
            footer: () => meanText,
          },
        },
      },
    },
    plugins: [meanLine],
  });
}

export function clearChart(canvas: HTMLCanvasElement): void {
  Chart.getChart(canvas)?.destroy();
}

/** Narrower than this, department names wrap onto lines of at most PHONE_LINE characters. */
const NARROW = 560;
const PHONE_LINE = 14;
const WIDE_LINE = 32;

/**
 * Breaks a label into lines of at most `max` characters at spaces ("Business Development" →
 * ["Business", "Development"]); a longer word keeps a line of its own. Nothing is cut.
 */
export function wrapLabel(label: string, max: number): string | string[] {
  if (label.length <= max) return label;
  const lines: string[] = [];
  for (const word of label.split(/\s+/).filter((w) => w !== '')) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= max) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines.length <= 1 ? label : lines;
}

// Long department names would push the bars off a phone's screen: they wrap there, whole. Every
// label is drawn (no auto-skip): the chart's height gives each bar room for two lines.
const departmentTicks = () => ({
  autoSkip: false,
  callback(this: Scale, value: string | number): string | string[] {
    return wrapLabel(this.getLabelForValue(Number(value)), this.chart.width < NARROW ? PHONE_LINE : WIDE_LINE);
  },
});

// Horizontal bars: the chart grows with the number of departments so labels never overlap.
function sizeFor(canvas: HTMLCanvasElement, bars: number): void {
  const box = canvas.parentElement;
  if (box === null) return;
  const perBar = box.clientWidth < NARROW ? 36 : 30;
  box.style.height = `${Math.max(180, 90 + bars * perBar)}px`;
}
