// An inline SVG sparkline over the last 60 samples. The SVG is one image with a spoken name
// that carries the current value, so screen readers get the number, not the drawing.
import { memo, type ReactElement } from 'react';
import { STATS_WINDOW } from '../store/store';

interface Props {
  values: readonly number[];
  /** fixed top of the scale (e.g. 100 for CPU); defaults to the series' max */
  max?: number;
  label: string;
  tone: 'cpu' | 'mem';
}

const W = 120;
const H = 32;

export const Sparkline = memo(function Sparkline({ values, max, label, tone }: Props): ReactElement {
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const step = W / (STATS_WINDOW - 1);
  const x0 = W - (values.length - 1) * step;
  const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(H - 2 - (Math.max(0, v) / top) * (H - 4)).toFixed(1)}`);
  const line = pts.length > 1 ? `M${pts.join('L')}` : '';
  const area = pts.length > 1 ? `${line}L${W},${H}L${x0.toFixed(1)},${H}Z` : '';
  return (
    <svg className={`spark spark-${tone}`} viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label} data-samples={values.length}>
      <path className="spark-base" d={`M0,${H - 0.5}H${W}`} />
      {area && <path className="spark-area" d={area} />}
      {line && <path className="spark-line" d={line} vectorEffect="non-scaling-stroke" />}
    </svg>
  );
});
