using Kairo.Ctl;

return CtlCommand.Run(args);
