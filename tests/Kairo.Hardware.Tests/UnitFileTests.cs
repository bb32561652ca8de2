using System.Diagnostics;

namespace Kairo.Hardware.Tests;

/// <summary>The unit file that ships in the bundle, checked by systemd's own parser.</summary>
public sealed class UnitFileTests
{
    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Kairo.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Kairo.sln not found above the test binaries");
    }

    [Fact]
    public void SystemdAcceptsTheUnitWithoutComplaint()
    {
        const string analyze = "/usr/bin/systemd-analyze";
        if (!OperatingSystem.IsLinux() || !File.Exists(analyze) || !Directory.Exists("/usr/lib/systemd/system"))
        {
            return; // a machine without systemd cannot judge the unit
        }

        // systemd-analyze verify checks that ExecStart names an executable, so it runs against a scratch root that has
        // the system's units, /bin/kill, and a stand-in for /opt/kairo/kairod.
        string root = Directory.CreateTempSubdirectory("kairo-unit-").FullName;
        try
        {
            string units = Path.Combine(root, "usr/lib/systemd/system");
            Directory.CreateDirectory(units);
            foreach (string unit in Directory.GetFiles("/usr/lib/systemd/system"))
            {
                File.Copy(unit, Path.Combine(units, Path.GetFileName(unit)));
            }

            string service = Path.Combine(root, "etc/systemd/system");
            Directory.CreateDirectory(service);
            File.Copy(Path.Combine(RepositoryRoot(), "scripts/systemd/kairod.service"), Path.Combine(service, "kairod.service"));
            Directory.CreateDirectory(Path.Combine(root, "bin"));
            File.Copy("/bin/kill", Path.Combine(root, "bin/kill"));
            string kairod = Path.Combine(root, "opt/kairo/kairod");
            Directory.CreateDirectory(Path.GetDirectoryName(kairod)!);
            File.WriteAllText(kairod, "#!/bin/sh\n");
            File.SetUnixFileMode(kairod, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            var start = new ProcessStartInfo(analyze, ["verify", "--root=" + root, "kairod.service"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(60_000));
            Assert.Equal("", output.Trim());
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
