using System.CommandLine;

namespace Kairo.Ctl;

/// <summary>kairoctl's command tree.</summary>
internal static class CtlCommand
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("kairoctl: pack, sign, ship and watch Kairo models.");
        return root.Parse(args).Invoke();
    }
}
