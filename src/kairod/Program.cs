using Kairo.Daemon;

return DaemonCommand.Run(args);
