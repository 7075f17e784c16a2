import { runCli } from './cli.ts';

// The `kassa` command as a process: argv, the real streams and environment, the system clock.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  environment: process.env,
});
