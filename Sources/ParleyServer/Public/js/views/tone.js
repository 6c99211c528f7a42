// Tones from WebAudio: a caller hears a ringback, a callee a ring, and a message in a hidden tab a chime.

let context = null;
let timer = null;

export function startTone(kind) {
  stopTone();
  try {
    context ??= new AudioContext();
    const beep = () => {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = kind === "ring" ? 880 : 440;
      gain.gain.value = 0.05;
      oscillator.connect(gain).connect(context.destination);
      oscillator.start();
      oscillator.stop(context.currentTime + (kind === "ring" ? 0.4 : 1.2));
    };
    beep();
    timer = setInterval(beep, kind === "ring" ? 1500 : 4000);
  } catch {
    // No audio output: the prompt on screen is enough.
  }
}

export function stopTone() {
  clearInterval(timer);
  timer = null;
}

/** A short two-note chime for a message that came while the tab was hidden. */
export function chime() {
  try {
    context ??= new AudioContext();
    for (const [index, frequency] of [660, 880].entries()) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      const start = context.currentTime + index * 0.12;
      oscillator.frequency.value = frequency;
      gain.gain.value = 0.04;
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start);
      oscillator.stop(start + 0.1);
    }
  } catch {
    // No audio output: the notification says it.
  }
}
