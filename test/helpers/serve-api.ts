// Ask a running `tunesmith serve` directly, over its HTTP API, what a test cannot see on screen
// (e.g. that a failed import stored nothing).
import type { CommandInput, CommandName, CommandOutput } from '../../main/api/contract.js';
import type { ServeProcess } from './cli.js';

export async function serveCall<N extends CommandName>(
  serve: ServeProcess,
  name: N,
  input: CommandInput<N>,
): Promise<CommandOutput<N>> {
  const response = await fetch(`${serve.baseUrl}/api/${name}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${serve.token}` },
    body: JSON.stringify(input),
  });
  const result = (await response.json()) as { ok: boolean; value?: unknown; error?: { message: string } };
  if (!result.ok) throw new Error(`${name} failed: ${result.error?.message ?? response.status}`);
  return result.value as CommandOutput<N>;
}
