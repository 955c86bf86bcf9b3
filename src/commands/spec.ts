// The shape of a CLI command: its name, synopsis, options and handler, as one table row (commands/index.ts). A new
// command is one file in this folder plus one line in that table; nested commands (`import cloudflare`,
// `dnssec keygen`) are rows of their parent's `subcommands`.

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's placeholder in help text ("FILE"). */
  readonly value?: string;
  /** Accepted values of a string option; anything else is an argument error. */
  readonly choices?: readonly string[];
  readonly multiple?: boolean;
  readonly help: string;
}

export type OptionsSpec = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : S extends { multiple: true } ? string[] : string;

/** The parsed options of a command, typed by its OptionsSpec (absent options are undefined). */
export type Values<O extends OptionsSpec> = { [K in keyof O]?: ValueOf<O[K]> };

export interface Invocation<O extends OptionsSpec> {
  values: Values<O>;
  positionals: string[];
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** What follows the command's name in a synopsis: "-c FILE [--watch]". */
  readonly synopsis: string;
  /** Paragraphs after the synopsis in `--help`. */
  readonly description?: string;
  readonly options: OptionsSpec;
  /** How many positional arguments the command takes (none when absent), and their placeholder for messages. */
  readonly positionals?: { readonly min: number; readonly max: number; readonly name: string };
  readonly subcommands?: readonly Command[];
  /** Returns the exit code, or -1 for a command that keeps running (serve). */
  run?(args: Invocation<OptionsSpec>): Promise<number>;
}

/** A command row with its handler typed by its own options. */
export function defineCommand<O extends OptionsSpec>(c: Omit<Command, 'options' | 'run'> & { options: O; run?: (args: Invocation<O>) => Promise<number> }): Command {
  return c as unknown as Command;
}

/** A mistake on the command line: reported as one line plus the command's synopsis, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command path whose synopsis to show ("check", "import cloudflare"). */
    readonly command: string | null = null,
  ) {
    super(message);
  }
}
