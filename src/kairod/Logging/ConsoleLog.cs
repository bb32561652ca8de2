using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Kairo.Daemon.Logging;

/// <summary>
/// Log lines on stdout (and warnings and errors on stderr), in the form journald reads: a syslog priority prefix
/// such as <c>&lt;4&gt;</c> when stdout is not a terminal, a timestamp and level name when it is. Never used on a
/// loop thread.
/// </summary>
public sealed class ConsoleLog : ILoggerFactory
{
    private readonly Lock _write = new();
    private readonly bool _interactive = !Console.IsOutputRedirected;

    public ConsoleLog(LogLevel minimum) => Minimum = minimum;

    public LogLevel Minimum { get; set; }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    internal void Write(LogLevel level, string category, string message, Exception? exception)
    {
        string text = exception == null ? message : $"{message}: {exception.Message}";
        string line = _interactive
            ? $"{DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {Name(level),-5} {category}: {text}"
            : $"<{Priority(level)}>{category}: {text}";
        lock (_write)
        {
            (level >= LogLevel.Warning ? Console.Error : Console.Out).WriteLine(line);
        }
    }

    private static string Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        _ => "crit",
    };

    // syslog priorities: 7 debug, 6 info, 4 warning, 3 error, 2 critical.
    private static int Priority(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => 7,
        LogLevel.Information => 6,
        LogLevel.Warning => 4,
        LogLevel.Error => 3,
        _ => 2,
    };

    public static LogLevel ParseLevel(string? name) => name switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "critical" => LogLevel.Critical,
        _ => LogLevel.Information,
    };

    private sealed class Logger(ConsoleLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.Minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Write(logLevel, category, formatter(state, exception), exception);
            }
        }
    }
}
