import type { CommandLine } from '../../dockerfile/index.ts';
import { DEFAULT_SHELL } from '../../oci/index.ts';
import type { ConfigStep } from '../../plan/index.ts';
import { goDuration, goList, goQuoteList } from '../go-format.ts';
import { commitToHistory } from '../history.ts';
import { type StageImage, setEnv } from '../image-state.ts';

/** Re-exported for the RUN handler, which imports it from here. */

/** A command line as the image stores it: exec form as is, shell form wrapped in SHELL (withShell). */
export function commandArgs(image: StageImage, command: CommandLine): string[] {
  if (command.form === 'exec') return [...command.args];
  const shell = image.config.Shell && image.config.Shell.length > 0 ? image.config.Shell : DEFAULT_SHELL;
  return [...shell, command.text];
}

/**
 * Applies an instruction that only changes the image config (ENV, ARG, LABEL, EXPOSE, VOLUME,
 * USER, SHELL, STOPSIGNAL, CMD, ENTRYPOINT, HEALTHCHECK, ONBUILD, MAINTAINER) exactly as BuildKit's
 * dispatchers do, including the history text each writes.
 */
export function applyConfigStep(image: StageImage, step: ConfigStep): void {
  const c = image.config;
  const history = (createdBy: string) => commitToHistory(image, { createdBy, withLayer: false });
  switch (step.kind) {
    case 'env': {
      c.Env ??= [];
      for (const { name, value } of step.pairs) setEnv(c.Env, name, value);
      history(`ENV ${step.pairs.map((p) => `${p.name}=${p.value}`).join(' ')}`);
      return;
    }
    case 'arg':
      history(
        `ARG ${step.args.map((a) => (a.value === undefined ? a.name : `${a.name}=${a.value}`)).join(' ')}`,
      );
      return;
    case 'label': {
      c.Labels ??= {};
      for (const { name, value } of step.pairs) c.Labels[name] = value;
      history(`LABEL ${step.pairs.map((p) => `${p.name}=${p.value}`).join(' ')}`);
      return;
    }
    case 'expose': {
      c.ExposedPorts ??= {};
      for (const port of step.ports) c.ExposedPorts[port] = {};
      // BuildKit formats the parsed port list with Go's %v.
      history(`EXPOSE ${goList(step.ports)}`);
      return;
    }
    case 'volume': {
      c.Volumes ??= {};
      for (const v of step.volumes) c.Volumes[v] = {};
      history(`VOLUME ${goList(step.volumes)}`);
      return;
    }
    case 'user':
      c.User = step.user;
      history(`USER ${step.user}`);
      return;
    case 'shell':
      c.Shell = [...step.shell];
      history(`SHELL ${goList(step.shell)}`);
      return;
    case 'stopsignal':
      c.StopSignal = step.signal;
      history(`STOPSIGNAL ${step.signal}`);
      return;
    case 'cmd': {
      const args = commandArgs(image, step.command);
      c.Cmd = args;
      c.ArgsEscaped = true;
      image.cmdSetInStage = true;
      history(`CMD ${goQuoteList(args)}`);
      return;
    }
    case 'entrypoint': {
      const args = commandArgs(image, step.command);
      c.Entrypoint = args;
      // BuildKit resets CMD when ENTRYPOINT is set in the same stage and no CMD came before it
      // (reference.md, "Understand how CMD and ENTRYPOINT interact").
      if (!image.cmdSetInStage) c.Cmd = null;
      history(`ENTRYPOINT ${goQuoteList(args)}`);
      return;
    }
    case 'healthcheck': {
      const test =
        step.test.type === 'none'
          ? ['NONE']
          : step.test.command.form === 'exec'
            ? // BuildKit's parseHealthcheck: the exec form keeps its type word, ["CMD", arg…].
              ['CMD', ...step.test.command.args]
            : ['CMD-SHELL', step.test.command.text];
      c.Healthcheck = {
        Test: test,
        ...(step.intervalNs ? { Interval: step.intervalNs } : {}),
        ...(step.timeoutNs ? { Timeout: step.timeoutNs } : {}),
        ...(step.startPeriodNs ? { StartPeriod: step.startPeriodNs } : {}),
        ...(step.startIntervalNs ? { StartInterval: step.startIntervalNs } : {}),
        ...(step.retries ? { Retries: step.retries } : {}),
      };
      history(
        `HEALTHCHECK {Test:${goList(test)} Interval:${goDuration(step.intervalNs)} Timeout:${goDuration(step.timeoutNs)} StartPeriod:${goDuration(step.startPeriodNs)} StartInterval:${goDuration(step.startIntervalNs)} Retries:${step.retries}}`,
      );
      return;
    }
    case 'onbuild':
      c.OnBuild = [...(c.OnBuild ?? []), step.expression];
      return;
    case 'maintainer':
      image.author = step.maintainer;
      history(`MAINTAINER ${step.maintainer}`);
      return;
  }
}
