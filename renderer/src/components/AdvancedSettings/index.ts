export { default } from './AdvancedSettings.svelte';
export { default as SettingField } from './SettingField.svelte';
