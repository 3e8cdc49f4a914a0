// Light and dark themes: follows the system until the user picks one; the choice is remembered.
export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'tunesmith.theme';

export class Theme {
  choice = $state<ThemeChoice>('system');

  constructor() {
    const saved = globalThis.localStorage?.getItem(KEY);
    if (saved === 'light' || saved === 'dark') this.choice = saved;
    this.apply();
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    if (choice === 'system') globalThis.localStorage?.removeItem(KEY);
    else globalThis.localStorage?.setItem(KEY, choice);
    this.apply();
  }

  /** `data-theme` on <html>; app.css reads it (and the system preference when absent). */
  apply(): void {
    const root = document.documentElement;
    if (this.choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.choice;
  }
}
