using MoqLite.Model;
using MoqLite.Samples.WebApp.Broadcasts;
using MoqLite.Samples.WebApp.Stats;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, WebRootPath = "../wwwroot" });

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<MoqStats>();
builder.Services.AddHostedService<EchoService>();
builder.Services.AddHostedService<RawQuicService>();
builder.Services.AddMoqLite(builder.Configuration.GetSection("MoqLite").Bind)
    .AddBroadcast("clock", clock => clock.AddTrack<ClockTrack>("seconds", new TrackInfo(Priority: 0, Ordered: false, LatencyMax: TimeSpan.FromSeconds(2), Timescale: 1000)));

// HTTP/3 WebTransport (when this machine has libmsquic) and HTTP/1.1 share the port of the first configured URL.
var url = new Uri((builder.Configuration["urls"] ?? "http://localhost:5000").Split(';')[0].Replace("*", "localhost", StringComparison.Ordinal).Replace("+", "localhost", StringComparison.Ordinal));
builder.Services.AddSingleton(new RawQuicEndpoint(builder.Configuration.GetValue<int?>("MoqLite:RawQuicPort") ?? url.Port + 1));
builder.WebHost.UseMoqLiteWebTransport(options =>
{
    options.Port = url.Port;
    options.Address = url.Host == "localhost" ? null : System.Net.IPAddress.Parse(url.Host);
});

var app = builder.Build();
// Listen from the start, so the Stats page's totals include sessions opened before anyone looks.
app.Services.GetRequiredService<MoqStats>();
// The web root is also the client's npm project: never serve its packages or sources.
app.Use((context, next) => context.Request.Path.StartsWithSegments("/node_modules") || context.Request.Path.StartsWithSegments("/src")
    ? Results.NotFound().ExecuteAsync(context)
    : next(context));
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapGet("/stats.json", (MoqStats stats) => stats.Snapshot());
app.MapMoqLite("/moq");
app.Run();

/// <summary>The sample's entry point, public for the tests' WebApplicationFactory.</summary>
public partial class Program;
