using System.CommandLine;

namespace Kairo.Ctl;

/// <summary>kairoctl's command tree.</summary>
internal static class CtlCommand
{
    /// <summary>Exit code of a command line kairoctl cannot act on: unknown command, bad option value, missing directory.</summary>
    public const int UsageError = 2;

    public static int Run(string[] args)
    {
        var root = new RootCommand("kairoctl: pack, sign, ship and watch Kairo models.")
        {
            ValidateCommand.Create(),
            BenchCommand.Create(),
            SendCommand.Create(),
            RecordCommand.Create(),
            FramesCommand.Create(),
            Device.StatusCommand.Create(),
            Device.CmdCommand.Create(),
            Device.WatchCommand.Create(),
            Device.BenchMqttCommand.Create(),
            Device.DeployCommand.Create(),
            Updates.KeygenCommand.Create(),
            Updates.PackCommand.Create(),
            Updates.SignCommand.Create(),
            Updates.VerifyCommand.Create(),
            Updates.ServeCommand.Create(),
        };

        ParseResult parse = root.Parse(args);
        int exitCode = parse.Invoke();

        // The parser prints its errors and the help; the exit code tells scripts it was the command line's fault.
        return parse.Errors.Count > 0 ? UsageError : exitCode;
    }
}
