import { fmtCost, fmtTime } from '../format';
import type { BudgetSpend } from '../types';

/** A budget's current window: spent of the limit, what is left, and when the window ends. */
export function SpendMeter({ spend, label }: { spend: BudgetSpend; label: string }) {
  const share = spend.limit > 0 ? Math.min(spend.spent / spend.limit, 1) : 1;
  return (
    <div class="spend" data-spend>
      <meter
        min={0}
        max={1}
        low={0.75}
        high={0.9}
        optimum={0}
        value={share}
        aria-label={`${label}: ${Math.round(share * 100)}% spent`}
      />
      <span class="spend-text">
        <span data-spent>{fmtCost(spend.spent)}</span> of <span data-limit>{fmtCost(spend.limit)}</span> ·{' '}
        <strong data-left>{fmtCost(spend.remaining)}</strong> left
      </span>
      {spend.window_start && spend.window_end && (
        <small class="muted spend-window">
          {fmtTime(spend.window_start)} to {fmtTime(spend.window_end)}
        </small>
      )}
    </div>
  );
}
