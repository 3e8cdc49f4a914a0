// Errors as the screens show them: main's command-line advice in this app's words, the technical
// cause folded into details, and the hint said once.
import { cleanup, render } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import ErrorNotice from '../../renderer/src/components/ErrorNotice';
import { ApiCallError } from '../../renderer/src/lib/api';
import { problemOf } from '../../renderer/src/lib/problem';

afterEach(cleanup);

describe('problemOf', () => {
  it('points a `tunesmith runs resume` hint at the Resume button, keeping main’s words as details', () => {
    const problem = problemOf({
      code: 'something-new',
      message: 'The trainer stopped.',
      hint: 'Run `tunesmith runs resume 7` to continue from step 40.',
    });
    expect(problem.hint).toBe('Press Resume to continue from step 40.');
    expect(problem.details).toBe('Run `tunesmith runs resume 7` to continue from step 40.');
  });

  it('moves the technical cause after "Details:" out of the hint', () => {
    const problem = problemOf(
      new ApiCallError({
        code: 'bad-json',
        message: 'broken.jsonl, line 2: the line is not valid JSON.',
        hint: 'Fix or delete that line. Details: Unexpected end of JSON input',
      }),
    );
    expect(problem).toEqual({
      code: 'bad-json',
      message: 'broken.jsonl, line 2: the line is not valid JSON.',
      hint: 'Fix or delete that line.',
      details: 'Unexpected end of JSON input',
    });
  });

  it('gives known codes this screen’s hint, and anything thrown a message', () => {
    expect(problemOf({ code: 'interrupted', message: 'Stopped.', hint: 'Run it again.' }).hint).toMatch(
      /^Press Resume/,
    );
    expect(problemOf(new Error('Socket closed'))).toEqual({ message: 'Socket closed' });
    expect(problemOf('plain text')).toEqual({ message: 'plain text' });
  });
});

describe('ErrorNotice', () => {
  it('shows the message, what to do, and the details folded', () => {
    const view = render(ErrorNotice, {
      props: {
        error: { message: 'The line is not valid JSON.', hint: 'Fix that line.', details: 'Unexpected end' },
        title: 'Could not import',
      },
    });
    const notice = view.getByTestId('error-notice');
    expect(notice.getAttribute('role')).toBe('alert');
    expect(notice.textContent).toContain('What to do: Fix that line.');
    const details = notice.querySelector('details')!;
    expect(details.open).toBe(false);
    expect(details.textContent).toContain('Unexpected end');
  });

  it('renders nothing without an error', () => {
    const view = render(ErrorNotice, { props: { error: null } });
    expect(view.queryByTestId('error-notice')).toBeNull();
  });
});
