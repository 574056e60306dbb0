using Microsoft.Extensions.Options;
using MoqLite.Transport.QMux;

namespace MoqLite.AspNetCore;

/// <summary>Checks <see cref="MoqLiteOptions"/> at start-up so a bad value fails fast, naming the setting.</summary>
internal sealed class MoqLiteOptionsValidator : IValidateOptions<MoqLiteOptions>
{
    public ValidateOptionsResult Validate(string? name, MoqLiteOptions options)
    {
        var failures = new List<string>();
        try
        {
            options.Session.Validate();
        }
        catch (ArgumentException ex)
        {
            failures.Add($"MoqLite:Session.{ex.ParamName} is invalid: {ex.Message.Split(" (Parameter", 2)[0]}");
        }
        if (options.MaxSessions < 1)
        {
            failures.Add($"MoqLite:MaxSessions must be at least 1 (got {options.MaxSessions}).");
        }
        var qmux = options.QMux;
        if (qmux.ReceiveWindow < 16 * 1024)
        {
            failures.Add($"MoqLite:QMux.ReceiveWindow must be at least 16384 bytes (got {qmux.ReceiveWindow}).");
        }
        if (qmux.StreamReceiveWindow < 1024 || qmux.StreamReceiveWindow > qmux.ReceiveWindow)
        {
            failures.Add($"MoqLite:QMux.StreamReceiveWindow must be between 1024 and ReceiveWindow (got {qmux.StreamReceiveWindow}).");
        }
        if (qmux.MaxConcurrentStreams < 4)
        {
            failures.Add($"MoqLite:QMux.MaxConcurrentStreams must be at least 4 (got {qmux.MaxConcurrentStreams}).");
        }
        if (qmux.MaxRecordSize < (int)QMuxTransportParameters.DefaultMaxRecordSize || qmux.MaxRecordSize > QMuxConnection.MaxRecordSizeLimit)
        {
            failures.Add($"MoqLite:QMux.MaxRecordSize must be between {QMuxTransportParameters.DefaultMaxRecordSize} and {QMuxConnection.MaxRecordSizeLimit} (got {qmux.MaxRecordSize}).");
        }
        if (qmux.IdleTimeout < TimeSpan.Zero)
        {
            failures.Add("MoqLite:QMux.IdleTimeout must not be negative.");
        }
        if (options.WebSocketSubprotocols.Count == 0)
        {
            failures.Add("MoqLite:WebSocketSubprotocols must list at least one subprotocol.");
        }
        foreach (var subprotocol in options.WebSocketSubprotocols)
        {
            if (!QMuxSubprotocols.TryParse(subprotocol, out _, out _))
            {
                failures.Add($"MoqLite:WebSocketSubprotocols: '{subprotocol}' is not a supported qmux-0N.moq-lite-0M subprotocol.");
            }
        }
        var tokens = options.Tokens;
        if (string.IsNullOrWhiteSpace(tokens.QueryParameter))
        {
            failures.Add("MoqLite:Tokens.QueryParameter must not be empty.");
        }
        if (tokens.ClockSkew < TimeSpan.Zero)
        {
            failures.Add("MoqLite:Tokens.ClockSkew must not be negative.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
