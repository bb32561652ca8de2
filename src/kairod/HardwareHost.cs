using Kairo.Daemon.Config;
using Kairo.Hardware.Gpio;
using Microsoft.Extensions.Logging;

namespace Kairo.Daemon;

/// <summary>
/// The board's GPIO as the profile describes it: an emergency-stop input that puts every loop on its safe output
/// while engaged, a heartbeat output, and a status output that is on while the daemon runs healthy.
/// </summary>
internal sealed class HardwareHost : IDisposable
{
    private readonly GpioSection _gpio;
    private readonly ILogger _logger;
    private IGpioDriver? _driver;
    private EmergencyStop? _estop;
    private HeartbeatOutput? _heartbeat;
    private StatusOutput? _status;

    public HardwareHost(GpioSection gpio, ILogger logger)
    {
        _gpio = gpio;
        _logger = logger;
    }

    /// <summary>Called on the e-stop monitor's thread with the new state (engaged or released).</summary>
    public event Action<bool>? EmergencyStopChanged;

    public bool EmergencyStopEngaged => _estop?.IsEngaged ?? false;

    public bool HasEmergencyStop => _gpio.Estop != null;

    /// <summary>The simulated chip when the profile asks for one: its inputs are driven by the <c>gpio.simulate</c> command.</summary>
    public SimulatedGpioDriver? Simulated => _driver as SimulatedGpioDriver;

    public string Chip => _gpio.Chip!;

    /// <summary>Opens the chip and its lines. A chip that does not exist is an error naming it.</summary>
    public void Start()
    {
        _driver = IGpioDriver.Open(_gpio.Chip!);
        if (_gpio.Status is { } status)
        {
            _status = new StatusOutput(_driver, status.Line!.Value, status.ActiveLow ?? false, _logger);
        }

        if (_gpio.Heartbeat is { } heartbeat)
        {
            _heartbeat = new HeartbeatOutput(_driver, heartbeat.Line!.Value, TimeSpan.FromMilliseconds(heartbeat.PeriodMs ?? 500), heartbeat.ActiveLow ?? false, _logger);
            _heartbeat.Start();
        }

        if (_gpio.Estop is { } estop)
        {
            _estop = new EmergencyStop(
                _driver,
                new EmergencyStopOptions
                {
                    Line = estop.Line!.Value,
                    ActiveLevel = estop.ActiveLevel == "low" ? GpioActiveLevel.Low : GpioActiveLevel.High,
                    Bias = estop.Bias switch
                    {
                        "disabled" => GpioBias.Disabled,
                        "pull-up" => GpioBias.PullUp,
                        "pull-down" => GpioBias.PullDown,
                        _ => GpioBias.AsIs,
                    },
                    Debounce = TimeSpan.FromMilliseconds(estop.DebounceMs ?? 20),
                },
                _logger);
            _estop.Changed += engaged => EmergencyStopChanged?.Invoke(engaged); // the first call reports the initial state
            _estop.Start();
        }

        _logger.LogInformation(
            "GPIO {Chip}: e-stop {Estop}, heartbeat {Heartbeat}, status {Status}",
            _driver.ChipName, _gpio.Estop?.Line?.ToString() ?? "none", _gpio.Heartbeat?.Line?.ToString() ?? "none", _gpio.Status?.Line?.ToString() ?? "none");
    }

    public void SetStatus(bool healthy) => _status?.Set(healthy);

    public void Dispose()
    {
        _status?.Set(false);
        _estop?.Dispose();
        _heartbeat?.Dispose();
        _status?.Dispose();
        _driver?.Dispose();
    }
}
