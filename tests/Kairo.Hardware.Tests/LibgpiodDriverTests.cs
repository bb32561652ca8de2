using Kairo.Hardware.Gpio;

namespace Kairo.Hardware.Tests;

/// <summary>
/// The real libgpiod.so.2. This machine has no GPIO chip, so what can run for real is the library itself and the
/// paths that find no chip; the line operations are exercised on boards.
/// </summary>
public sealed class LibgpiodDriverTests
{
    private static string ChipsPresent()
    {
        var chips = Directory.GetFiles("/dev", "gpiochip*").Select(Path.GetFileName).OrderBy(n => n!.Length).ThenBy(n => n, StringComparer.Ordinal).ToArray();
        return chips.Length == 0 ? "none" : string.Join(", ", chips);
    }

    [Fact]
    public void TheLibraryIsLibgpiodVersion1()
    {
        string? version = LibgpiodDriver.LibraryVersion;
        Assert.NotNull(version);
        var parsed = Version.Parse(version!);
        Assert.Equal(1, parsed.Major);
        Assert.True(parsed.Minor >= 5, $"libgpiod {version} lacks the bias flags (1.5+)");
    }

    [Theory]
    [InlineData("gpiochip7")]
    [InlineData("/dev/gpiochip7")]
    [InlineData("7")]
    [InlineData("no-such-label")]
    public void AMissingChipIsNamedWithTheChipsPresent(string chip)
    {
        if (File.Exists("/dev/gpiochip7"))
        {
            return; // a board that really has it
        }

        var error = Assert.Throws<GpioException>(() => LibgpiodDriver.Open(chip));
        Assert.Equal(2, error.ErrorCode); // ENOENT, from libgpiod itself
        Assert.Equal("No such file or directory", error.NativeMessage);
        Assert.Equal($"GPIO chip '{chip}' does not exist (chips present: {ChipsPresent()})", error.Message);
    }

    [Fact]
    public void WithoutChipsTheMessageSaysNone()
    {
        if (ChipsPresent() != "none")
        {
            return;
        }

        var error = Assert.Throws<GpioException>(() => IGpioDriver.Open("gpiochip7"));
        Assert.Equal("GPIO chip 'gpiochip7' does not exist (chips present: none)", error.Message);
    }

    [Fact]
    public void ADeviceThatIsNotAGpioChipIsRefused()
    {
        var error = Assert.Throws<GpioException>(() => LibgpiodDriver.Open("/dev/null"));
        Assert.Equal(25, error.ErrorCode); // ENOTTY: libgpiod checks the device belongs to the GPIO subsystem
        Assert.Equal($"'/dev/null' is not a GPIO chip (chips present: {ChipsPresent()})", error.Message);
    }

    [Fact]
    public void ChipsPresentAreListedInNumericOrder()
    {
        string dev = Directory.CreateTempSubdirectory("kairo-dev-").FullName;
        try
        {
            Assert.Equal("none", LibgpiodDriver.DescribePresentChips(dev));
            foreach (string name in new[] { "gpiochip10", "gpiochip2", "gpiochip0", "null", "ttyS0" })
            {
                File.WriteAllBytes(Path.Combine(dev, name), []);
            }

            Assert.Equal("gpiochip0, gpiochip2, gpiochip10", LibgpiodDriver.DescribePresentChips(dev));
            Assert.Equal("none", LibgpiodDriver.DescribePresentChips(Path.Combine(dev, "missing")));
        }
        finally
        {
            Directory.Delete(dev, recursive: true);
        }
    }

    [Fact]
    public void APermissionErrorSaysWhatAccessIsMissing()
    {
        var error = LibgpiodDriver.OpenError("gpiochip0", 13, "/dev");
        Assert.Equal(13, error.ErrorCode);
        Assert.Equal("Permission denied", error.NativeMessage);
        Assert.Contains("needs read and write access to /dev/gpiochip*", error.Message);
    }

    [Fact]
    public void AnEmptyChipNameIsRefused()
    {
        Assert.Throws<ArgumentException>(() => LibgpiodDriver.Open(""));
    }
}
