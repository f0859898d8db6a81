// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { PendingStatus, pendingRepeatsState } from './pending-status';

describe('PendingStatus', () => {
  afterEach(() => cleanup());

  it('shows the words only when the state badge does not already say them', () => {
    expect(pendingRepeatsState('Starting…', 'starting')).toBe(true);
    expect(pendingRepeatsState('Stopping…', 'stopping')).toBe(true);
    expect(pendingRepeatsState('Starting…', 'stopped')).toBe(false);
    expect(pendingRepeatsState('Forcing off…', 'stopping')).toBe(false);
  });

  it('keeps the words for screen readers when only the spinner shows', () => {
    const { rerender } = render(<PendingStatus pending="Starting…" state="starting" />);
    expect(screen.getByRole('status').textContent).toBe('Starting…');
    expect(screen.getByText('Starting…').className).toBe('visually-hidden');
    rerender(<PendingStatus pending="Starting…" state="stopped" />);
    expect(screen.getByText('Starting…').className).toBe('pending');
  });
});
